import MienFiles
import MienNN

/// Whether a forward pass is small enough to run inside a fuzz target.
///
/// The library accepts models whose forward pass is legitimately expensive (activations up
/// to 2^26 floats, convolutions of many GFLOP): running those would make a fuzz run take
/// seconds and find nothing. So before a target runs a graph, it walks the graph with the
/// concrete batch-1 input shapes, adding every layer's output size and an upper estimate of
/// its multiply-adds (its weights times its output positions), and runs it only within the
/// bounds. Pooling windows, resizing and the like are deliberately not estimated beyond
/// their output size: a small output that takes long to compute is a finding.
public enum ForwardBudget {
    /// The largest input a target runs, in values per sample.
    public static let maxInputValues = 4096
    /// The most activation values (every layer's output, summed) a run may produce.
    public static let maxActivations = 1 << 20
    /// The most multiply-adds (estimated from the weights) a run may take.
    public static let maxMultiplyAdds = 1 << 23

    struct Exceeded: Error {}

    struct Tally {
        var activations = 0
        var multiplyAdds = 0

        mutating func add(activations a: Int, multiplyAdds m: Int) throws {
            let (sumA, overA) = activations.addingReportingOverflow(a)
            let (sumM, overM) = multiplyAdds.addingReportingOverflow(m)
            guard !overA, !overM, sumA <= ForwardBudget.maxActivations,
                  sumM <= ForwardBudget.maxMultiplyAdds else { throw Exceeded() }
            activations = sumA
            multiplyAdds = sumM
        }
    }

    /// True when `graph` on inputs of these concrete shapes stays within the bounds (and
    /// every shape can be computed: a graph whose shapes fail is not run).
    public static func allows(_ graph: Graph, inputs: [[Int]]) -> Bool {
        var tally = Tally()
        do {
            _ = try walk(graph, inputs.map { $0.map { Optional($0) } }, &tally)
            return true
        } catch {
            return false
        }
    }

    static func walk(_ graph: Graph, _ inputShapes: [Shape], _ tally: inout Tally) throws -> Shape {
        guard inputShapes.count == graph.inputNodes.count else { throw Exceeded() }
        // Validates the inputs the way the graph itself does.
        _ = try graph.outputShape(for: inputShapes)
        var shapes: [Shape] = []
        shapes.reserveCapacity(graph.nodes.count)
        for (index, node) in graph.nodes.enumerated() {
            if let slot = graph.inputNodes.firstIndex(of: index) {
                shapes.append(inputShapes[slot])
                continue
            }
            guard node.layer >= 0, node.layer < graph.layers.count,
                  node.inputs.allSatisfy({ $0 >= 0 && $0 < shapes.count }) else { throw Exceeded() }
            let layer = graph.layers[node.layer]
            let inputs = node.inputs.map { shapes[$0] }
            let output: Shape
            if let nested = layer as? Graph {
                output = try walk(nested, inputs, &tally)
            } else {
                output = try layer.outputShape(for: inputs)
                let dims = try output.map { dim -> Int in
                    guard let dim else { throw Exceeded() }
                    return dim
                }
                guard let elements = CheckedSize.product(dims), elements >= 0 else { throw Exceeded() }
                let positions = elements / max(1, dims.last ?? 1)
                let (macs, overflow) = positions.multipliedReportingOverflow(by: layer.parameterCount)
                guard !overflow else { throw Exceeded() }
                try tally.add(activations: elements, multiplyAdds: macs)
            }
            shapes.append(output)
        }
        guard graph.outputNode >= 0, graph.outputNode < shapes.count else { throw Exceeded() }
        return shapes[graph.outputNode]
    }
}
