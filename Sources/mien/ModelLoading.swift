import ArgumentParser
import Foundation
import MienImages
import MienKeras
import MienModelFile
import MienNN

/// How the CLI opens a MODEL argument: a `.mien` file as it is, a Keras `.h5` or `.keras`
/// through the importer with an input adapter made from the options.
struct ModelOptions: ParsableArguments {
    @Option(help: "Weights for a Keras architecture file (tf.keras save_weights .h5, Keras 3 .weights.h5, or a full-model .h5 or .keras).")
    var weights: String?

    @Option(parsing: .unconditional, help: "For a Keras model: the side of the raw images it is given (default: its input size), 1...16384; the input adapter resizes them to the model's input.")
    var imageSize: Int?

    @Option(parsing: .unconditional, help: "For a Keras model: the channels of the raw images, 1 or 3 (default: the model's); 1 is repeated to 3.")
    var imageChannels: Int?

    @Option(parsing: .unconditional, help: "For a Keras model that takes any image size (a backbone): the size to resize to, 1...\(ModelOptions.maxInputSize).")
    var inputSize: Int?

    @Option(parsing: .unconditional, help: "For a Keras model: pixel scaling, input = pixel * scale + offset (a finite number; negative values are fine: --offset -1).")
    var scale: Float = 1.0 / 255

    @Option(parsing: .unconditional, help: "For a Keras model: pixel offset, input = pixel * scale + offset.")
    var offset: Float = 0

    @Option(parsing: .unconditional, help: "For a Keras model: class names in output order, comma-separated.")
    var classes: String?

    @Option(help: "none, or mirror: average each prediction with the mirror image's (default: what a .mien model records; none for Keras).")
    var testTimeAugmentation: TestTimeAugmentation?

    /// The largest `--input-size` (an image side the backbone runs on).
    static let maxInputSize = 4096

    mutating func validate() throws {
        try OptionCheck.range("--image-size", imageSize, 1...ImageDecoder.maxSide)
        if let imageChannels, imageChannels != 1 && imageChannels != 3 {
            throw ValidationError("--image-channels must be 1 or 3, got \(imageChannels)")
        }
        try OptionCheck.range("--input-size", inputSize, 1...ModelOptions.maxInputSize)
        try OptionCheck.finite("--scale", scale)
        try OptionCheck.finite("--offset", offset)
        if let classes { _ = try OptionCheck.classes("--classes", classes) }
    }

    /// Loads MODEL; a `.mien` file carries its own adapter and classes (`--classes`
    /// replaces them, and must name as many classes as the model has outputs).
    func load(_ path: String) throws -> MienModel {
        var model: MienModel
        if KerasModel.isKerasFile(path) || weights != nil {
            let keras = try IsolatedKerasImport.load(path, weights: weights)
            model = MienModel(graph: keras.graph, inputAdapter: try adapter(for: keras.graph, path: path),
                              source: URL(fileURLWithPath: path).lastPathComponent)
        } else {
            model = try MienFile.read(contentsOf: path)
        }
        if let classes {
            let names = try OptionCheck.classes("--classes", classes)
            let expected = model.outputNames.count
            guard names.count == expected else {
                throw ValidationError("--classes names \(names.count) classes, but \(path) gives \(expected) (\(model.graph.outputShape.kerasDescription))")
            }
            model.classes = names
        }
        if let testTimeAugmentation { model.testTimeAugmentation = testTimeAugmentation }
        return model
    }

    /// The adapter that turns raw pixels into the Keras model's input; nil when the model
    /// does not take one image (it can still be exported, not fed images).
    private func adapter(for graph: Graph, path: String) throws -> InputAdapter? {
        guard graph.inputShapes.count == 1, let shape = graph.inputShapes.first, shape.count == 4,
              let c = shape[3], let h = shape[1] ?? inputSize, let w = shape[2] ?? inputSize else {
            if imageSize != nil || imageChannels != nil || inputSize != nil {
                throw ValidationError("\(path): the input options need a model that takes one image (with --input-size when its size is free); its inputs are \(graph.inputShapes.map(\.kerasDescription).joined(separator: ", "))")
            }
            return nil
        }
        if let imageChannels, imageChannels != c, imageChannels != 1 {
            throw ValidationError("--image-channels \(imageChannels) does not fit \(path), which takes \(c) channels (only 1 channel is repeated to \(c))")
        }
        let image = imageSize.map { [$0, $0] } ?? [h, w]
        let adapter = InputAdapter(inputSize: image + [imageChannels ?? c], outputSize: [h, w, c], scale: scale, offset: offset)
        // A size the network cannot take (too small for its windows) names the option.
        if let inputSize, shape[1] == nil || shape[2] == nil {
            do {
                _ = try adapter.prepended(to: graph)
            } catch let error as LayerError {
                throw ValidationError("--input-size \(inputSize) does not fit \(path): layer '\(error.layer)': \(error.message)")
            }
        }
        return adapter
    }
}

extension TestTimeAugmentation: ExpressibleByArgument {}
