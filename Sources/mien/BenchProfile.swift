import Foundation
import MienNN

/// Where a forward pass spends its time, layer by layer (`mien bench --profile`): the graph,
/// flattened so that a nested backbone shows its own layers, runs on one core over the batch
/// in slices, as each core does in a real pass.
struct LayerProfile: Encodable {
    struct Entry: Encodable {
        var layer: String
        var kerasClass: String
        var millisecondsPerImage: Double
        /// Of the whole pass.
        var share: Double
    }

    /// Every layer, slowest first.
    var layers: [Entry]
    /// Summed by layer class, slowest first.
    var classes: [Entry]

    init(_ graph: Graph, input: Tensor, perSlice: Int, passes: Int = 2) throws {
        let flat = try graph.flattened()
        let n = input.shape[0]
        var seconds = [Double](repeating: 0, count: flat.layers.count)
        for pass in 0...passes {
            for start in stride(from: 0, to: n, by: max(1, perSlice)) {
                let slice = input.batch(start..<min(n, start + max(1, perSlice)))
                // Pass 0 warms up the allocator and caches and is not counted.
                _ = try flat.forward([slice]) { layer, time in if pass > 0 { seconds[layer] += time.seconds } }
            }
        }
        let images = Double(n * passes)
        let total = max(seconds.reduce(0, +), .leastNonzeroMagnitude)
        func entry(_ name: String, _ kerasClass: String, _ s: Double) -> Entry {
            Entry(layer: name, kerasClass: kerasClass, millisecondsPerImage: 1000 * s / images, share: s / total)
        }
        layers = zip(flat.layers, seconds).map { entry($0.name, $0.kerasClass, $1) }
            .sorted { $0.share > $1.share }
        classes = Dictionary(grouping: zip(flat.layers, seconds), by: { $0.0.kerasClass })
            .map { entry($0.key, $0.key, $0.value.map(\.1).reduce(0, +)) }
            .sorted { $0.share > $1.share }
    }

    /// The classes, then the `top` slowest layers, as text.
    func lines(top: Int = 12) -> [String] {
        func line(_ e: Entry, _ label: String) -> String {
            String(format: "  %5.1f%%  %7.3f ms/image  %@", 100 * e.share, e.millisecondsPerImage, label)
        }
        return ["time by layer class:"] + classes.map { line($0, $0.kerasClass) }
            + ["slowest layers:"] + layers.prefix(top).map { line($0, "\($0.layer) (\($0.kerasClass))") }
    }
}
