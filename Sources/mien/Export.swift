import ArgumentParser
import Foundation
import MienKeras
import MienModelFile

/// `mien export`: a model as a `.mien` file for fast inference, or back to Keras.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a Keras .h5 or .keras or a .mien model to a .mien file (optimized for inference) or back to Keras (.keras or .h5).")

    @Argument(help: "A Keras .h5 or .keras (or an architecture with --weights) or a .mien model.")
    var model: String

    @OptionGroup var options: ModelOptions

    @Option(name: .shortAndLong, help: "Write a .mien model file here.")
    var output: String?

    @Option(help: ArgumentHelp(
        "Write the model for Keras here: a Keras 3 .keras zip if the name ends in .keras, else a legacy full-model .h5.",
        discussion: "The .keras loads in Keras 3 (keras.models.load_model); the .h5 in Keras 3 and tf.keras."))
    var keras: String?

    @Flag(help: "Keep BatchNormalization and Dropout layers in the .mien file.")
    var noOptimize = false

    func run() throws {
        try reportingErrors {
            guard output != nil || keras != nil else {
                throw ValidationError("give --output FILE.mien and/or --keras FILE.keras (or FILE.h5)")
            }
            let loaded = try options.load(model)
            if let output {
                var optimized = loaded
                if !noOptimize { optimized.graph = try loaded.graph.optimizedForInference() }
                try MienFile.write(optimized, to: output)
                print("wrote \(output)")
            }
            if let keras {
                guard loaded.testTimeAugmentation == .none else {
                    throw ValidationError("\(model): the model averages each prediction with the mirror image's (test-time augmentation \(loaded.testTimeAugmentation.rawValue)), which a Keras model cannot record; add --test-time-augmentation none to export the network alone")
                }
                // As Keras's model.save, the name decides the format.
                if keras.hasSuffix(".keras") {
                    try KerasExport.writeKeras(loaded.graph, adapter: loaded.inputAdapter, to: keras)
                } else {
                    try KerasExport.write(loaded.graph, adapter: loaded.inputAdapter, to: keras)
                }
                print("wrote \(keras)")
            }
        }
    }
}
