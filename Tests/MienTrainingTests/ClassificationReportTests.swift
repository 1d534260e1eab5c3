import Foundation
import XCTest
import MienTestSupport
@testable import MienTraining

/// `ClassificationReport` against scikit-learn (`classification_report`, `confusion_matrix`,
/// `accuracy_score`, `balanced_accuracy_score`, `compute_class_weight("balanced")`).
final class ClassificationReportTests: XCTestCase {
    struct Fixture: Decodable {
        struct Average: Decodable {
            var precision: Double
            var recall: Double
            var f1: Double
            var support: Double
            enum CodingKeys: String, CodingKey { case precision, recall, f1 = "f1-score", support }
        }
        struct Case: Decodable {
            var name: String
            var classes: [String]
            var y_true: [Int]
            var y_pred: [Int]
            var text: String
            var accuracy: Double
            var balanced_accuracy: Double
            var confusion_matrix: [[Int]]
            var per_class: [String: Average]
            var macro_avg: Average
            var weighted_avg: Average
            var counts: [Int]
            var balanced_class_weights: [Double]?
        }
        var sklearn_version: String
        var cases: [Case]
    }

    func testMatchesScikitLearn() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("training/classification_report.json")))
        let fixture = try JSONDecoder().decode(Fixture.self, from: data)
        XCTAssertEqual(fixture.cases.count, 5)
        for c in fixture.cases {
            let report = ClassificationReport(predicted: c.y_pred, actual: c.y_true, classes: c.classes)
            XCTAssertEqual(report.text, c.text, "\(c.name): text\n\(report.text)")
            XCTAssertEqual(report.confusionMatrix, c.confusion_matrix, c.name)
            XCTAssertEqual(report.accuracy, c.accuracy, accuracy: 1e-12, c.name)
            XCTAssertEqual(report.balancedAccuracy, c.balanced_accuracy, accuracy: 1e-12, c.name)
            for metrics in report.classes {
                let expected = try XCTUnwrap(c.per_class[metrics.name])
                XCTAssertEqual(metrics.precision, expected.precision, accuracy: 1e-12, "\(c.name) \(metrics.name)")
                XCTAssertEqual(metrics.recall, expected.recall, accuracy: 1e-12, "\(c.name) \(metrics.name)")
                XCTAssertEqual(metrics.f1, expected.f1, accuracy: 1e-12, "\(c.name) \(metrics.name)")
                XCTAssertEqual(Double(metrics.support), expected.support, "\(c.name) \(metrics.name)")
            }
            for (mine, theirs) in [(report.macroAverage, c.macro_avg), (report.weightedAverage, c.weighted_avg)] {
                XCTAssertEqual(mine.precision, theirs.precision, accuracy: 1e-12, c.name)
                XCTAssertEqual(mine.recall, theirs.recall, accuracy: 1e-12, c.name)
                XCTAssertEqual(mine.f1, theirs.f1, accuracy: 1e-12, c.name)
                XCTAssertEqual(Double(mine.support), theirs.support, c.name)
            }
            if let weights = c.balanced_class_weights {
                let mine = classWeightsBalanced(counts: c.counts)
                for (a, b) in zip(mine, weights) { XCTAssertEqual(a, Float(b), "\(c.name) balanced weights") }
            }
        }
    }

    /// Divisions by zero give 0 and are flagged (scikit-learn warns "ill-defined").
    func testZeroDivisionIsFlagged() {
        let report = ClassificationReport(predicted: [0, 3, 1, 1, 0, 0, 3, 0, 1, 1], actual: [0, 0, 1, 1, 1, 0, 1, 0, 0, 1],
                                          classes: ["a", "b", "c", "d"])
        XCTAssertEqual(report.classes.map(\.undefined), [[], [], ["precision", "recall", "f1"], ["recall"]])
        XCTAssertEqual(report.classes[3].precision, 0)
        XCTAssertEqual(report.balancedAccuracy, 0.6, accuracy: 1e-12)   // over the classes with samples
        let data = try! JSONEncoder().encode(report)
        XCTAssertEqual(try JSONDecoder().decode(ClassificationReport.self, from: data), report)
    }
}
