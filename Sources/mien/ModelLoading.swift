import ArgumentParser
import Foundation
import HDF5
import Keras
import ModelFile
import NN

/// How the CLI opens a MODEL argument: a `.mien` file as it is, a Keras `.h5` through the
/// importer with an input adapter made from the options.
struct ModelOptions: ParsableArguments {
    @Option(help: "Weights for a Keras architecture file (tf.keras save_weights .h5 or Keras 3 .weights.h5).")
    var weights: String?

    @Option(help: "For a Keras model: the side of the raw images it is given (default: its input size); the input adapter resizes them to the model's input.")
    var imageSize: Int?

    @Option(help: "For a Keras model: the channels of the raw images (default: the model's); 1 is repeated to 3.")
    var imageChannels: Int?

    @Option(help: "For a Keras model that takes any image size (a backbone): the size to resize to.")
    var inputSize: Int?

    @Option(help: "For a Keras model: pixel scaling, input = pixel * scale + offset.")
    var scale: Float = 1.0 / 255

    @Option(help: "For a Keras model: pixel offset, input = pixel * scale + offset.")
    var offset: Float = 0

    @Option(help: "For a Keras model: class names in output order, comma-separated.")
    var classes: String?

    /// Loads MODEL; a `.mien` file carries its own adapter and classes.
    func load(_ path: String) throws -> MienModel {
        if HDF5File.isHDF5(path) || weights != nil {
            let keras = try weights.map { try KerasModel(architecture: path, weights: $0) } ?? KerasModel(contentsOf: path)
            return MienModel(graph: keras.graph, inputAdapter: try adapter(for: keras.graph, path: path),
                             classes: classes.map(split) ?? [], source: URL(fileURLWithPath: path).lastPathComponent)
        }
        var model = try MienFile.read(contentsOf: path)
        if let classes { model.classes = split(classes) }
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
        let image = imageSize.map { [$0, $0] } ?? [h, w]
        return InputAdapter(inputSize: image + [imageChannels ?? c], outputSize: [h, w, c], scale: scale, offset: offset)
    }

    private func split(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
