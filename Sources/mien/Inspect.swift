import ArgumentParser
import Foundation
import MienKeras
import MienNN

/// `mien inspect`: Keras's `model.summary()` for a checkpoint, as text or JSON.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize a Keras model: layers, output shapes, parameter counts.")

    @Argument(help: "A full-model Keras .h5 or .keras, or an architecture (.h5, .keras or model.to_json() file) with --weights.")
    var model: String

    @Option(help: "Weights for the architecture: a tf.keras save_weights .h5, a Keras 3 .weights.h5, or a full-model .h5 or .keras.")
    var weights: String?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    enum OutputFormat: String, ExpressibleByArgument { case text, json }

    func run() throws {
        try reportingErrors {
            let imported = try IsolatedKerasImport.load(model, weights: weights)
            let summary = imported.summary
            switch format {
            case .text: print(SummaryFormatter.text(summary, backend: imported.backend), terminator: "")
            case .json: print(try SummaryFormatter.json(summary))
            }
        }
    }
}

enum SummaryFormatter {
    static func text(_ s: ModelSummary, backend: String?) -> String {
        // Columns as wide as their longest entry, at least Keras's widths.
        let widths = (name: max(30, (s.rows.map { $0.name.count + $0.className.count + 6 }.max() ?? 0)),
                      shape: max(26, (s.rows.map { $0.outputShape.kerasDescription.count + 2 }.max() ?? 0)))
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
        }
        let width = widths.name + widths.shape + 10
        let rule = String(repeating: "_", count: width)
        let double = String(repeating: "=", count: width)
        var out = "Model: \"\(s.name)\""
        if let version = s.kerasVersion { out += " (Keras \(version)\(backend.map { ", \($0) backend" } ?? ""))" }
        out += "\nInput shape: " + s.inputShapes.map(\.kerasDescription).joined(separator: ", ") + "\n"
        out += rule + "\n"
        out += pad(" Layer (type)", widths.name) + pad("Output Shape", widths.shape) + "Param #\n"
        out += double + "\n"
        for row in s.rows {
            out += pad(" \(row.name) (\(row.className))", widths.name)
                + pad(row.outputShape.kerasDescription, widths.shape) + grouped(row.params) + "\n"
        }
        out += double + "\n"
        out += "Total params: \(grouped(s.totalParams))\n"
        out += "Trainable params: \(grouped(s.trainableParams))\n"
        out += "Non-trainable params: \(grouped(s.nonTrainableParams))\n"
        out += rule + "\n"
        return out
    }

    static func json(_ s: ModelSummary) throws -> String {
        struct Output: Encodable {
            var model: String
            var keras_version: String?
            var input_shape: Shape
            var input_shapes: [Shape]
            var output_shape: Shape
            var total_params: Int
            var trainable_params: Int
            var non_trainable_params: Int
            var layers: [Layer]
            struct Layer: Encodable {
                var name: String
                var class_name: String
                var output_shape: Shape
                var params: Int
            }
        }
        let output = Output(model: s.name, keras_version: s.kerasVersion, input_shape: s.inputShapes.first ?? [],
                            input_shapes: s.inputShapes, output_shape: s.outputShape, total_params: s.totalParams,
                            trainable_params: s.trainableParams, non_trainable_params: s.nonTrainableParams,
                            layers: s.rows.map { .init(name: $0.name, class_name: $0.className,
                                                       output_shape: $0.outputShape, params: $0.params) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(output), as: UTF8.self)
    }

    /// 1234567 -> "1,234,567", as Keras prints counts.
    static func grouped(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return out
    }
}
