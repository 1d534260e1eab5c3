import Foundation
import FoundationXML
@testable import MienReport
import MienTestSupport
import MienTraining
import XCTest

/// The report equals scikit-learn on the same predictions (fixture from
/// tools/make_report_fixtures.py) and renders every awkward case.
final class ReportTests: XCTestCase {
    struct Fixture: Decodable {
        struct AtThreshold: Decodable { var threshold: Double; var text: String; var confusion_matrix: [[Int]] }
        struct Binary: Decodable {
            var name: String
            var y_true: [Int]
            var y_score: [Double]
            var roc_auc_score: Double?
            var average_precision_score: Double?
            var at_threshold: [AtThreshold]
        }
        struct Multi: Decodable {
            var name: String
            var classes: [String]
            var y_true: [Int]
            var y_pred: [Int]
            var text: String
            var confusion_matrix: [[Int]]
        }
        var binary: [Binary]
        var multiclass: [Multi]
    }

    static let fixture: Fixture = try! JSONDecoder().decode(
        Fixture.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("report/curves.json"))))

    func run(_ classes: [String], counts: [Int], threshold: Float = 0.5) -> RunInfo {
        RunInfo(model: "/m/fer.mien", data: "/d/test", dataRole: "evaluation", classes: classes, counts: counts,
                threshold: threshold, mienVersion: "test", evaluationSeconds: 0.5, training: nil)
    }

    func faces(truth: [Int], predicted: [Int], scores: [[Float]]) -> [ScoredFace] {
        truth.indices.map { i in
            ScoredFace(source: "face\(i) <&>.png", pixels: (0..<16).map { UInt8(($0 * 16 + i) % 256) }, side: 4,
                       truth: truth[i], predicted: predicted[i], scores: scores[i])
        }
    }

    /// Sigmoid scores thresholded as the Predictor does (score >= t is the second class).
    func binaryReport(_ c: Fixture.Binary, threshold: Double) -> Report {
        let predicted = c.y_score.map { $0 >= threshold ? 1 : 0 }
        let faces = faces(truth: c.y_true, predicted: predicted, scores: c.y_score.map { [Float($0)] })
        let counts = [c.y_true.filter { $0 == 0 }.count, c.y_true.filter { $0 == 1 }.count]
        return Report(faces: faces, classes: ["0", "1"], run: run(["0", "1"], counts: counts,
                                                                           threshold: Float(threshold)), history: nil)
    }

    func testNumbersEqualScikitLearn() throws {
        let tolerance = Tolerance(relative: 1e-6)   // scores pass through Float in the faces
        for c in Self.fixture.binary where c.name == "imbalanced_ties" || c.name == "tiny" {
            for expected in c.at_threshold {
                let report = binaryReport(c, threshold: expected.threshold).data
                XCTAssertEqual(report.classificationReport.text, expected.text, c.name)
                XCTAssertEqual(report.classificationReport.confusionMatrix, expected.confusion_matrix, c.name)
                let auc = try XCTUnwrap(report.curves?.roc.auc, c.name)
                XCTAssertNil(mismatch([auc], [try XCTUnwrap(c.roc_auc_score)], tolerance), c.name)
                let ap = try XCTUnwrap(report.curves?.precisionRecall.averagePrecision, c.name)
                XCTAssertNil(mismatch([ap], [try XCTUnwrap(c.average_precision_score)], tolerance), c.name)
            }
        }
        for c in Self.fixture.multiclass {
            let k = c.classes.count
            let scores = c.y_pred.map { p in (0..<k).map { $0 == p ? Float(1) : 0 } }
            let counts = (0..<k).map { label in c.y_true.filter { $0 == label }.count }
            let report = Report(faces: faces(truth: c.y_true, predicted: c.y_pred, scores: scores), classes: c.classes,
                                run: run(c.classes, counts: counts), history: nil).data
            XCTAssertEqual(report.classificationReport.text, c.text, c.name)
            XCTAssertEqual(report.classificationReport.confusionMatrix, c.confusion_matrix, c.name)
            XCTAssertNil(report.curves, "curves are for two classes")
        }
    }

    /// Writes the report and checks every file: the SVGs parse as XML, the page has its
    /// sections, nothing prints NaN, and report.json reads back.
    func written(_ report: Report, file: StaticString = #filePath, line: UInt = #line) throws -> (html: String, files: [String]) {
        let folder = try makeTemporaryFolder("mien-report").appendingPathComponent("out").path
        let path = try report.write(to: folder)
        let html = try String(contentsOfFile: path, encoding: .utf8)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        for svg in files where svg.hasSuffix(".svg") {
            XCTAssertNoThrow(try XMLDocument(contentsOf: URL(fileURLWithPath: "\(folder)/\(svg)")), svg, file: file, line: line)
        }
        let others = try files.filter { $0.hasSuffix(".svg") || $0.hasSuffix(".json") }
            .map { try String(contentsOfFile: "\(folder)/\($0)", encoding: .utf8) }
        for text in [html] + others {
            XCTAssertFalse(text.contains("NaN") || text.contains("nan,") || text.contains(">inf<"), "non-finite number", file: file, line: line)
        }
        for section in ["Learning curves", "Classification report", "Confusion matrix", "Faces", "Run"] {
            XCTAssertTrue(html.contains("<h2>\(section)</h2>"), section, file: file, line: line)
        }
        XCTAssertFalse(html.contains("<script"), "no JavaScript", file: file, line: line)
        XCTAssertFalse(html.contains("http://") && !html.contains("http://www.w3.org/2000/svg"), "no network", file: file, line: line)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/report.json")))
        XCTAssertNotNil((json as? [String: Any])?["classification_report"], file: file, line: line)
        XCTAssertFalse(files.contains { $0.hasPrefix(".") || $0.contains("tmp") }, "no temporary files left: \(files)",
                       file: file, line: line)
        return (html, files)
    }

    func history(_ epochs: Int) -> History {
        History(epochs: (1...epochs).map {
            EpochRecord(epoch: $0, loss: 1 / Float($0), accuracy: 0.5 + 0.04 * Float($0), valLoss: 1.1 / Float($0),
                        valAccuracy: 0.5 + 0.03 * Float($0), seconds: 0.1, imagesPerSecond: 100)
        }, bestEpoch: epochs)
    }

    func testTwoClassReportWithHistory() throws {
        let c = Self.fixture.binary.first { $0.name == "imbalanced_ties" }!
        var report = binaryReport(c, threshold: 0.5)
        report.data.history = history(5)
        let (html, files) = try written(report)
        XCTAssertEqual(files, ["accuracy.svg", "confusion_matrix.svg", "loss.svg", "precision_recall.svg", "report.html",
                               "report.json", "roc.svg"])
        XCTAssertTrue(html.contains("ROC and precision–recall"))
        XCTAssertTrue(html.contains("data:image/png;base64,"), "faces are inline PNGs")
        XCTAssertTrue(html.contains("face0 &lt;&amp;&gt;.png"), "sources are escaped")
        XCTAssertTrue(html.contains("class=\"wrong\""), "mistakes are marked")
    }

    func testSingleEpoch() throws {
        let c = Self.fixture.binary.first { $0.name == "tiny" }!
        var report = binaryReport(c, threshold: 0.5)
        report.data.history = history(1)
        let (html, _) = try written(report)
        XCTAssertTrue(html.contains("1 epoch;"))
    }

    /// Seven classes, one with no faces and one never predicted: precision is ill-defined and
    /// shown as such; no ROC section.
    func testSevenClassesWithAnEmptyClassAndAnUnpredictedOne() throws {
        let c = Self.fixture.multiclass.first { $0.name == "fer_seven" }!
        let k = c.classes.count
        let scores = c.y_pred.map { p in (0..<k).map { $0 == p ? Float(0.9) : Float(0.1) / Float(k - 1) } }
        let counts = (0..<k).map { label in c.y_true.filter { $0 == label }.count }
        XCTAssertEqual(counts[1], 0, "disgust has no faces")
        let report = Report(faces: faces(truth: c.y_true, predicted: c.y_pred, scores: scores), classes: c.classes,
                            run: run(c.classes, counts: counts), history: nil)
        let (html, files) = try written(report)
        XCTAssertFalse(files.contains("roc.svg"))
        XCTAssertFalse(html.contains("ROC and precision"))
        XCTAssertTrue(html.contains("0.00*"), "ill-defined precision is flagged")
        XCTAssertTrue(html.contains("records no training history"))
        XCTAssertTrue(files.contains("confusion_matrix.svg"))
        XCTAssertEqual(c.classes.filter { html.contains(">\($0)<") }.count, k, "every class is named")
    }

    func testOneClassOnlyAndNoFaces() throws {
        let faces = faces(truth: [1, 1, 1], predicted: [1, 0, 1], scores: [[0.9], [0.2], [0.7]])
        let report = Report(faces: faces, classes: ["angry", "happy"], run: run(["angry", "happy"], counts: [0, 3]),
                            history: nil)
        XCTAssertEqual(report.data.curves?.roc.isDefined, false)
        let (html, files) = try written(report)
        XCTAssertTrue(html.contains("one class only"))
        XCTAssertFalse(files.contains("roc.svg"))
        let empty = Report(faces: [], classes: ["angry", "happy"], run: run(["angry", "happy"], counts: [0, 0]), history: nil)
        XCTAssertTrue(try written(empty).html.contains("No faces."))
    }

    func testUnwritableFolderNamesIt() throws {
        let file = try makeTemporaryFolder("mien-report").appendingPathComponent("file")
        try Data("x".utf8).write(to: file)
        let report = Report(faces: [], classes: ["a", "b"], run: run(["a", "b"], counts: [0, 0]), history: nil)
        XCTAssertThrowsError(try report.write(to: file.appendingPathComponent("sub").path)) { error in
            XCTAssertTrue("\(error)".contains(file.path), "\(error)")
        }
    }
}
