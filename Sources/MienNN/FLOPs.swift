/// Floating-point operations of a forward pass, counted as 2 per multiply-add of the
/// convolutions and dense layers (the usual convention; activations, normalization and
/// pooling are a small share and are not counted). Used to compare a forward pass with
/// what `cblas_sgemm` reaches on the same machine.
extension Graph {
    /// Operations per image for inputs of these shapes (batch dimension ignored).
    public func flopsPerImage(for inputShapes: [Shape]) throws -> Int {
        var shapes: [Shape] = []
        shapes.reserveCapacity(nodes.count)
        var total = 0
        for (index, node) in nodes.enumerated() {
            if let slot = inputNodes.firstIndex(of: index) {
                shapes.append(inputShapes[slot])
                continue
            }
            let inputs = node.inputs.map { shapes[$0] }
            let layer = layers[node.layer]
            let output = try layer.outputShape(for: inputs)
            shapes.append(output)
            total += try Graph.flops(of: layer, inputs: inputs, output: output)
        }
        return total
    }

    static func flops(of layer: any Layer, inputs: [Shape], output: Shape) throws -> Int {
        // Output positions per image: every dimension but the batch and the channels.
        let positions = output.dropFirst().dropLast().reduce(1) { $0 * ($1 ?? 1) }
        switch layer {
        case let graph as Graph:
            return try graph.flopsPerImage(for: inputs)
        case let conv as Conv2D:
            return 2 * positions * conv.kernel.count
        case let conv as GroupedConv2D:
            return 2 * positions * conv.kernel.count
        case let conv as DepthwiseConv2D:
            return 2 * positions * conv.depthwiseKernel.count
        case let conv as SeparableConv2D:
            return 2 * positions * (conv.depthwiseKernel.count + conv.pointwiseKernel.count)
        case let dense as Dense:
            return 2 * positions * dense.kernel.count
        default:
            return 0
        }
    }
}
