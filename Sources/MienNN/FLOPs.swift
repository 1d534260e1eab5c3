/// Floating-point operations of a forward pass, counted as 2 per multiply-add of the
/// convolutions and dense layers (the usual convention; activations, normalization and
/// pooling are a small share and are not counted). Used to compare a forward pass with
/// what `cblas_sgemm` reaches on the same machine. Each layer counts its own
/// (`Layer.flopsPerImage(inputs:output:)`).
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
            total += try layer.flopsPerImage(inputs: inputs, output: output)
        }
        return total
    }

    public func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int {
        try flopsPerImage(for: inputs)
    }
}

extension Layer {
    /// Output positions per image of a layer's output: every dimension but the batch and the
    /// channels. A layer applying `weights` multiply-adds at each computes 2·positions·weights.
    func positions(of output: Shape) -> Int {
        output.dropFirst().dropLast().reduce(1) { $0 * ($1 ?? 1) }
    }
}
