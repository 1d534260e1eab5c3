import MienCharts
import Foundation
import MienModelFile
import MienTraining

/// Makes the report of a model's answers on labelled faces and writes it to a folder:
/// `report.html`, `report.json` and each chart as an `.svg` file.
public struct Report {
    public var data: ReportData
    public var gallery: Gallery

    /// `faces` are the model's answers (`Evaluation.score`); `history` the training history
    /// (for the learning curves), when the model has one.
    public init(faces: [ScoredFace], classes: [String], run: RunInfo, history: History?) {
        let actual = faces.map(\.truth)
        let report = ClassificationReport(predicted: faces.map(\.predicted), actual: actual, classes: classes)
        // The curves need one score per face: the sigmoid output, or the second class's probability.
        let curves = classes.count == 2
            ? BinaryCurves(scores: faces.map { $0.probability(of: 1) }, labels: actual, threshold: Double(run.threshold))
            : nil
        gallery = Gallery(faces, classes: classes.count)
        data = ReportData(run: run, history: history, classificationReport: report, curves: curves, gallery: gallery)
    }

    /// The report of a model file: its training record (settings, history) goes in too.
    public init(faces: [ScoredFace], classes: [String], model: MienModel, run: RunInfo) {
        let record = TrainingRecord(model.training)
        var run = run
        run.training = run.training ?? record.map(TrainingInfo.init)
        run.testTimeAugmentation = run.testTimeAugmentation ?? model.testTimeAugmentation.rawValue
        self.init(faces: faces, classes: classes, run: run, history: record?.history)
    }

    /// Writes the report into `folder` (created if needed); returns the path of `report.html`.
    /// Each file is written to a temporary name and renamed, so none is ever half-written.
    @discardableResult
    public func write(to folder: String) throws -> String {
        let url = URL(fileURLWithPath: folder, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw ReportError(path: folder, message: "cannot create the report folder (\(error.localizedDescription))")
        }
        let charts = ReportCharts(data)
        let html = try HTMLPage(data: data, charts: charts, gallery: gallery).render()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        var files: [(String, Data)] = [("report.html", Data(html.utf8)), ("report.json", try encoder.encode(data))]
        for (file, chart) in charts.named {
            files.append((file, Data(chart.svg().render(xmlDeclaration: true).utf8)))
        }
        for (name, bytes) in files {
            let path = url.appendingPathComponent(name)
            do {
                try bytes.write(to: path, options: .atomic)
            } catch {
                throw ReportError(path: path.path, message: "cannot write (\(error.localizedDescription))")
            }
        }
        return url.appendingPathComponent("report.html").path
    }
}

public struct ReportError: Error, CustomStringConvertible, Equatable {
    public var path: String
    public var message: String
    public var description: String { "\(path): \(message)" }
}
