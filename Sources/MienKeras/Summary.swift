import MienKerasConfig
import MienNN

/// What Keras's `model.summary()` shows: one row per top-level layer and the totals.
public struct ModelSummary: Sendable, Equatable, Codable {
    public struct Row: Sendable, Equatable, Codable {
        public var name: String
        public var className: String
        public var outputShape: Shape
        public var params: Int
    }

    public var name: String
    public var kerasVersion: String?
    public var inputShapes: [Shape]
    public var outputShape: Shape
    public var rows: [Row]
    public var totalParams: Int
    public var trainableParams: Int
    public var nonTrainableParams: Int
}

extension KerasModel {
    public var summary: ModelSummary {
        let graph = self.graph
        let major = kerasMajor
        var rows: [ModelSummary.Row] = []
        for (index, layer) in graph.layers.enumerated() {
            // Keras lists a Sequential model's layers without its InputLayer.
            if graph.kerasClass == "Sequential" && layer is InputLayer { continue }
            // Nor Keras 3's operations (`x + 3.0`).
            if let operation = layer as? any OperationLayer, !operation.isKerasLayer { continue }
            let node = graph.nodes.firstIndex { $0.layer == index }
            rows.append(.init(name: layer.name, className: layer.kerasClass,
                              outputShape: node.map { graph.nodeShapes[$0] } ?? [],
                              params: layer.parameterCount))
        }
        let total = graph.parameterCount
        let trainable = WeightOrder.trainableCount(graph, kerasMajor: major)
        return ModelSummary(name: graph.name, kerasVersion: kerasVersion,
                            inputShapes: graph.inputShapes,
                            outputShape: graph.outputShape, rows: rows,
                            totalParams: total, trainableParams: trainable, nonTrainableParams: total - trainable)
    }
}
