import ArgumentParser
import MienFaces
import Foundation
import MienModelFile
import MienReport
import MienTraining

/// `mien evaluate`: accuracy, per-class precision/recall/F1 and the confusion matrix.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a model on labelled faces (a folder of class folders or a fer2013.csv).")

    @Argument(help: "A .mien model, or a Keras .h5 or .keras (see the input options).")
    var model: String

    @Option(help: "Labelled faces: a folder of class folders (Kaggle layout) or a fer2013.csv.")
    var data: String

    @Option(help: "With a fer2013.csv: the Usage rows to evaluate on (default PublicTest).")
    var usage: String?

    @OptionGroup var options: ModelOptions

    @Option(parsing: .unconditional, help: "For one sigmoid output: the score from which a face is the second class, 0...1.")
    var threshold: Float = 0.5

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @Flag(help: "Stop at an unreadable image instead of skipping it with a warning.")
    var strict = false

    @Option(help: "Also write the report to this folder: report.html (charts, tables, faces), report.json and the charts as .svg.")
    var report: String?

    enum Format: String, ExpressibleByArgument { case text, json }

    func validate() throws {
        try OptionCheck.threshold(threshold)
        try OptionCheck.usage(usage, data: data)
    }

    func run() throws {
        try reportingErrors {
            // `--classes` (in the model options) overrides the model's own class names.
            let loaded = try options.load(model)
            guard !loaded.classes.isEmpty else {
                throw ValidationError("\(model): the model records no class names; give --classes")
            }
            let predictor = try Predictor(model: loaded, threshold: threshold)
            let faces = try FaceDataset.load(data, classes: loaded.classes, usage: OptionCheck.isFolder(data) ? nil : usage ?? "PublicTest",
                                             strict: strict)
            for warning in faces.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            let clock = ContinuousClock()
            let start = clock.now
            let scored = try Evaluation.score(predictor, faces: faces)
            let seconds = (clock.now - start).seconds
            let report = ClassificationReport(predicted: scored.map(\.predicted), actual: scored.map(\.truth),
                                              classes: faces.classes)
            switch format {
            case .text: print(report.text)
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                // scikit-learn's and Keras's spelling: balanced_accuracy, confusion_matrix.
                encoder.keyEncodingStrategy = .convertToSnakeCase
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            }
            if let folder = self.report {
                let path = try writeReport(scored, on: faces, role: "evaluation", model: loaded, path: model, data: data,
                                           threshold: threshold, seconds: seconds, to: folder)
                // After the metrics, so the report's path is the last line a user sees.
                fflush(nil)
                FileHandle.standardError.write(Data("report: \(path)\n".utf8))
            }
        }
    }
}

/// Writes the report of a model's answers on labelled faces (`mien evaluate` and `mien train
/// --report`) and returns the path of its `report.html`.
func writeReport(_ scored: [ScoredFace], on faces: FaceDataset, role: String, model: MienModel, path: String,
                 data: String, threshold: Float, seconds: Double, to folder: String) throws -> String {
    let run = RunInfo(model: path, data: data, dataRole: role, classes: faces.classes, counts: faces.counts,
                      threshold: threshold, mienVersion: MienVersion.current, evaluationSeconds: seconds, training: nil)
    return try Report(faces: scored, classes: faces.classes, model: model, run: run).write(to: folder)
}
