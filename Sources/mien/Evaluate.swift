import ArgumentParser
import Faces
import Foundation
import Images
import ModelFile
import Training

/// `mien evaluate`: accuracy, per-class precision/recall/F1 and the confusion matrix.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on labelled faces (a folder of class folders or a fer2013.csv).")

    @Argument(help: "A .mien model, or a Keras .h5 (see the input options).")
    var model: String

    @Option(help: "Labelled faces: a folder of class folders (Kaggle layout) or a fer2013.csv.")
    var data: String

    @Option(help: "With a fer2013.csv: the Usage rows to evaluate on.")
    var usage = "PublicTest"

    @OptionGroup var options: ModelOptions

    @Option(help: "For one sigmoid output: the score from which a face is the second class.")
    var threshold: Float = 0.5

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @Flag(help: "Stop at an unreadable image instead of skipping it with a warning.")
    var strict = false

    enum Format: String, ExpressibleByArgument { case text, json }

    func run() throws {
        try reportingErrors {
            // `--classes` (in the model options) overrides the model's own class names.
            let loaded = try options.load(model)
            guard !loaded.classes.isEmpty else {
                throw ValidationError("\(model): the model records no class names; give --classes")
            }
            let predictor = try Predictor(model: loaded, threshold: threshold)
            let faces = try FaceDataset.load(data, classes: loaded.classes, usage: data.hasSuffix(".csv") ? usage : nil,
                                             strict: strict)
            for warning in faces.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            var predicted: [Int] = []
            let side = FaceDataset.side
            for start in stride(from: 0, to: faces.faces.count, by: 256) {
                let chunk = faces.faces[start..<min(start + 256, faces.faces.count)]
                let images = chunk.map { Image(width: side, height: side, channels: 1, pixels: $0.pixels) }
                predicted += try predictor.predict(images: images).map(\.index)
            }
            let report = ClassificationReport(predicted: predicted, actual: faces.faces.map(\.label), classes: faces.classes)
            switch format {
            case .text: print(report.text)
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                // scikit-learn's and Keras's spelling: balanced_accuracy, confusion_matrix.
                encoder.keyEncodingStrategy = .convertToSnakeCase
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            }
        }
    }
}
