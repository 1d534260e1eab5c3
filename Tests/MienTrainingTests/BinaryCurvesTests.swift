import Foundation
import XCTest
import MienTestSupport
@testable import MienTraining

/// `BinaryCurves` (and `ClassificationReport` on thresholded scores) against scikit-learn:
/// `Tests/Fixtures/report/curves.json`, made by `tools/make_report_fixtures.py`.
final class BinaryCurvesTests: XCTestCase {
    /// Rates, areas and precisions are float64 ratios of counts, summed as numpy sums: equal to
    /// scikit-learn's within 1e-12 of the largest expected magnitude (in practice, bit-equal).
    /// Thresholds are the input scores themselves and must be equal.
    static let tolerance = Tolerance(relative: 1e-12)

    struct Fixture: Decodable {
        struct Metrics: Decodable {
            var precision: Double
            var recall: Double
            var f1: Double
            var support: Int
        }
        struct Report: Decodable {
            var confusion_matrix: [[Int]]
            var text: String
            var accuracy: Double
            var balanced_accuracy: Double
            var per_class: [Metrics]
            var macro_avg: Metrics
            var weighted_avg: Metrics
        }
        struct AtThreshold: Decodable {
            var threshold: Double
            var report: Report
            init(from decoder: any Decoder) throws {
                threshold = try decoder.container(keyedBy: Key.self).decode(Double.self, forKey: .threshold)
                report = try Report(from: decoder)
            }
            enum Key: String, CodingKey { case threshold }
        }
        struct ROC: Decodable {
            var fpr: [Double]?
            var tpr: [Double]?
            var thresholds: [Double?]
        }
        struct PR: Decodable {
            var precision: [Double]
            var recall: [Double]
            var thresholds: [Double]
        }
        struct Binary: Decodable {
            var name: String
            var dtype: String
            var y_true: [Int]
            var y_score: [Double]
            var roc_curve: ROC
            var roc_auc_score: Double?
            var precision_recall_curve: PR
            var average_precision_score: Double
            var at_threshold: [AtThreshold]
            var warnings: [String]
        }
        struct Multiclass: Decodable {
            var name: String
            var classes: [String]
            var y_true: [Int]
            var y_pred: [Int]
            var report: Report
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: Key.self)
                name = try container.decode(String.self, forKey: .name)
                classes = try container.decode([String].self, forKey: .classes)
                y_true = try container.decode([Int].self, forKey: .y_true)
                y_pred = try container.decode([Int].self, forKey: .y_pred)
                report = try Report(from: decoder)
            }
            enum Key: String, CodingKey { case name, classes, y_true, y_pred }
        }
        var sklearn_version: String
        var binary: [Binary]
        var multiclass: [Multiclass]

        static func load() throws -> Fixture {
            let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("report/curves.json")))
            return try JSONDecoder().decode(Fixture.self, from: data)
        }
    }

    /// `mismatch(_:_:_:)`'s rule (`|a − e| <= absolute + relative · max|e|`) in Double:
    /// TestSupport's helper takes `[Float]`, which would round these float64 values to 24 bits.
    /// Nil when the arrays match, else a description of the worst element.
    private func assertClose(_ actual: [Double]?, _ expected: [Double]?, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        switch (actual, expected) {
        case (nil, nil): return
        case let (a?, e?):
            if let bad = mismatch(a, e, Self.tolerance) { XCTFail("\(what): \(bad) (\(Self.tolerance))", file: file, line: line) }
        default:
            XCTFail("\(what): got \(String(describing: actual)), expected \(String(describing: expected))", file: file, line: line)
        }
    }

    private func assertClose(_ actual: Double?, _ expected: Double?, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        assertClose(actual.map { [$0] }, expected.map { [$0] }, what, file: file, line: line)
    }

    private func curves(_ c: Fixture.Binary, threshold: Double = 0.5) -> BinaryCurves? {
        c.dtype == "float32"
            ? BinaryCurves(scores: c.y_score.map { Float($0) }, labels: c.y_true, threshold: threshold)
            : BinaryCurves(scores: c.y_score, labels: c.y_true, threshold: threshold)
    }

    private func assertReport(_ report: ClassificationReport, _ expected: Fixture.Report, _ what: String,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.text, expected.text, "\(what): text\n\(report.text)", file: file, line: line)
        XCTAssertEqual(report.confusionMatrix, expected.confusion_matrix, what, file: file, line: line)
        assertClose([report.accuracy, report.balancedAccuracy], [expected.accuracy, expected.balanced_accuracy],
                    "\(what) accuracy, balanced accuracy", file: file, line: line)
        XCTAssertEqual(report.classes.map(\.support), expected.per_class.map(\.support), what, file: file, line: line)
        for (name, mine, theirs) in [("precision", report.classes.map(\.precision), expected.per_class.map(\.precision)),
                                     ("recall", report.classes.map(\.recall), expected.per_class.map(\.recall)),
                                     ("f1", report.classes.map(\.f1), expected.per_class.map(\.f1))] {
            assertClose(mine, theirs, "\(what) per-class \(name)", file: file, line: line)
        }
        for (name, mine, theirs) in [("macro", report.macroAverage, expected.macro_avg),
                                     ("weighted", report.weightedAverage, expected.weighted_avg)] {
            assertClose([mine.precision, mine.recall, mine.f1], [theirs.precision, theirs.recall, theirs.f1],
                        "\(what) \(name) avg", file: file, line: line)
            XCTAssertEqual(mine.support, theirs.support, "\(what) \(name) avg support", file: file, line: line)
        }
    }

    // MARK: - Against scikit-learn

    func testFixtureIsComplete() throws {
        let fixture = try Fixture.load()
        XCTAssertEqual(fixture.sklearn_version, "1.9.1")
        XCTAssertEqual(fixture.binary.map(\.name),
                       ["imbalanced_ties", "tiny", "all_equal", "float32", "only_positive", "only_negative"])
        XCTAssertEqual(fixture.multiclass.map(\.name), ["three_class", "fer_seven"])
    }

    func testCurvesMatchScikitLearn() throws {
        for c in try Fixture.load().binary {
            let result = try XCTUnwrap(curves(c), c.name)
            XCTAssertEqual(result.positives, c.y_true.filter { $0 == 1 }.count, c.name)
            XCTAssertEqual(result.negatives, c.y_true.filter { $0 == 0 }.count, c.name)

            // roc_curve: the first threshold is inf (null in the fixture), then scores, equal.
            XCTAssertEqual(result.roc.thresholds, c.roc_curve.thresholds.map { $0 ?? .infinity }, "\(c.name) roc thresholds")
            assertClose(result.roc.falsePositiveRates, c.roc_curve.fpr, "\(c.name) fpr")
            assertClose(result.roc.truePositiveRates, c.roc_curve.tpr, "\(c.name) tpr")
            assertClose(result.roc.auc, c.roc_auc_score, "\(c.name) roc_auc_score")
            XCTAssertEqual(result.roc.isDefined, c.roc_auc_score != nil, c.name)

            // precision_recall_curve and average_precision_score.
            XCTAssertEqual(result.precisionRecall.thresholds, c.precision_recall_curve.thresholds, "\(c.name) pr thresholds")
            assertClose(result.precisionRecall.precision, c.precision_recall_curve.precision, "\(c.name) precision")
            assertClose(result.precisionRecall.recall, c.precision_recall_curve.recall, "\(c.name) recall")
            if result.positives > 0 {
                assertClose(result.precisionRecall.averagePrecision, c.average_precision_score, "\(c.name) AP")
            } else {
                // scikit-learn warns "No positive class found" and returns 0; Mien says undefined.
                XCTAssertNil(result.precisionRecall.averagePrecision, c.name)
                XCTAssertEqual(c.average_precision_score, 0, c.name)
                XCTAssertTrue(c.warnings.contains { $0.hasPrefix("average_precision_score: No positive class") }, c.name)
            }
            if !result.roc.isDefined {
                XCTAssertTrue(c.warnings.contains { $0.hasPrefix("roc_auc_score: Only one class is present") }, c.name)
            }
        }
    }

    /// The operating point and `ClassificationReport` of `score >= t`, at 0.5 and 0.3, against
    /// scikit-learn's `confusion_matrix` and `classification_report` of the same predictions.
    func testOperatingPointAndReportMatchScikitLearn() throws {
        for c in try Fixture.load().binary {
            XCTAssertEqual(c.at_threshold.count, 2)
            for at in c.at_threshold {
                let what = "\(c.name) at \(at.threshold)"
                let scores32 = c.y_score.map { Float($0) }
                let point = try XCTUnwrap(c.dtype == "float32"
                    ? OperatingPoint(scores: scores32, labels: c.y_true, threshold: at.threshold)
                    : OperatingPoint(scores: c.y_score, labels: c.y_true, threshold: at.threshold), what)
                XCTAssertEqual(try XCTUnwrap(curves(c, threshold: at.threshold), what).operatingPoint, point, what)
                let matrix = at.report.confusion_matrix
                XCTAssertEqual([[point.trueNegatives, point.falsePositives], [point.falseNegatives, point.truePositives]],
                               matrix, what)
                // Defined rates equal the report's class-1 numbers; undefined ones are nil where
                // scikit-learn sets 0 and warns.
                let positive = at.report.per_class[1]
                if positive.support > 0 {
                    assertClose(point.truePositiveRate, positive.recall, "\(what) recall")
                } else {
                    XCTAssertNil(point.truePositiveRate, what)
                }
                if matrix[0][1] + matrix[1][1] > 0 {
                    assertClose(point.precision, positive.precision, "\(what) precision")
                } else {
                    XCTAssertNil(point.precision, what)
                }
                let negativeCount = matrix[0][0] + matrix[0][1]
                assertClose(point.falsePositiveRate,
                            negativeCount > 0 ? Double(matrix[0][1]) / Double(negativeCount) : nil, "\(what) fpr")

                // The Predictor's rule on the same scores, then ClassificationReport.
                let predicted = c.dtype == "float32"
                    ? scores32.map { $0 >= Float(at.threshold) ? 1 : 0 }
                    : c.y_score.map { $0 >= at.threshold ? 1 : 0 }
                let report = ClassificationReport(predicted: predicted, actual: c.y_true, classes: ["0", "1"])
                assertReport(report, at.report, what)
            }
        }
    }

    func testMulticlassReportsMatchScikitLearn() throws {
        for c in try Fixture.load().multiclass {
            let report = ClassificationReport(predicted: c.y_pred, actual: c.y_true, classes: c.classes)
            assertReport(report, c.report, c.name)
        }
    }

    // MARK: - Edge cases

    func testInvalidInputGivesNil() {
        XCTAssertNil(BinaryCurves(scores: [Double](), labels: []))
        XCTAssertNil(BinaryCurves(scores: [0.1, 0.2], labels: [1]))
        XCTAssertNil(BinaryCurves(scores: [0.1, 0.2], labels: [0, 2]))
        XCTAssertNil(BinaryCurves(scores: [0.1, 0.2], labels: [0, -1]))
        XCTAssertNil(BinaryCurves(scores: [0.1, .nan], labels: [0, 1]))
        XCTAssertNil(BinaryCurves(scores: [Float.infinity, 0.2], labels: [0, 1]))
        XCTAssertNil(BinaryCurves(scores: [0.1, -Double.infinity], labels: [0, 1]))
        XCTAssertNil(OperatingPoint(scores: [Float](), labels: [], threshold: 0.5))
        XCTAssertNil(OperatingPoint(scores: [0.5], labels: [3], threshold: 0.5))
    }

    /// One class only: the curve is returned, flagged undefined, with no area.
    func testOneClassIsUndefinedNotACrash() throws {
        let positive = try XCTUnwrap(BinaryCurves(scores: [0.9], labels: [1]))
        XCTAssertFalse(positive.roc.isDefined)
        XCTAssertNil(positive.roc.auc)
        XCTAssertNil(positive.roc.falsePositiveRates)
        XCTAssertEqual(positive.roc.truePositiveRates, [0, 1])
        XCTAssertTrue(positive.precisionRecall.isDefined)
        XCTAssertEqual(positive.precisionRecall.averagePrecision, 1)
        XCTAssertNil(positive.operatingPoint.falsePositiveRate)
        XCTAssertEqual(positive.operatingPoint.truePositiveRate, 1)

        let negative = try XCTUnwrap(BinaryCurves(scores: [0.2, 0.2, 0.7], labels: [0, 0, 0], threshold: 0.8))
        XCTAssertFalse(negative.roc.isDefined)
        XCTAssertNil(negative.roc.truePositiveRates)
        XCTAssertEqual(negative.roc.falsePositiveRates?.count, 3)
        XCTAssertFalse(negative.precisionRecall.isDefined)
        XCTAssertEqual(negative.precisionRecall.recall, [1, 1, 0])
        XCTAssertNil(negative.operatingPoint.truePositiveRate)
        XCTAssertNil(negative.operatingPoint.precision)          // nothing predicted positive
        XCTAssertEqual(negative.operatingPoint.falsePositiveRate, 0)
    }

    func testAllEqualScoresGiveTheDiagonal() throws {
        let result = try XCTUnwrap(BinaryCurves(scores: [Float](repeating: 0.25, count: 5), labels: [1, 0, 0, 1, 0]))
        XCTAssertEqual(result.roc.thresholds, [.infinity, 0.25])
        XCTAssertEqual(result.roc.falsePositiveRates, [0, 1])
        XCTAssertEqual(result.roc.truePositiveRates, [0, 1])
        XCTAssertEqual(result.roc.auc, 0.5)
        XCTAssertEqual(result.precisionRecall.precision, [0.4, 1])
        XCTAssertEqual(result.precisionRecall.recall, [1, 0])
        XCTAssertEqual(result.precisionRecall.thresholds, [0.25])
        XCTAssertEqual(result.precisionRecall.averagePrecision, 0.4)
        XCTAssertEqual(result.operatingPoint.truePositives + result.operatingPoint.falsePositives, 0)
    }

    /// Ties are one threshold whatever the order of the samples; the order of the input does
    /// not change anything.
    func testTiesAndOrderDoNotMatter() throws {
        let scores: [Double] = [0.3, 0.8, 0.3, 0.5, 0.8, 0.1, 0.5, 0.3]
        let labels = [0, 1, 1, 0, 0, 0, 1, 1]
        let result = try XCTUnwrap(BinaryCurves(scores: scores, labels: labels))
        XCTAssertEqual(result.precisionRecall.thresholds, [0.1, 0.3, 0.5, 0.8])
        let permutation = [5, 2, 7, 0, 1, 6, 4, 3]
        let shuffled = try XCTUnwrap(BinaryCurves(scores: permutation.map { scores[$0] }, labels: permutation.map { labels[$0] }))
        XCTAssertEqual(shuffled, result)
        // The same scores as Float give the same curves when they are exact in Float.
        let float = try XCTUnwrap(BinaryCurves(scores: [Float](arrayLiteral: 0.25, 0.75, 0.25, 0.5), labels: [0, 1, 1, 0]))
        let double = try XCTUnwrap(BinaryCurves(scores: [0.25, 0.75, 0.25, 0.5], labels: [0, 1, 1, 0]))
        XCTAssertEqual(float, double)
    }

    /// A perfect and a reversed ranking; and the operating point at thresholds that are not finite.
    func testExtremesAndOddThresholds() throws {
        let perfect = try XCTUnwrap(BinaryCurves(scores: [0.1, 0.2, 0.8, 0.9], labels: [0, 0, 1, 1]))
        XCTAssertEqual(perfect.roc.auc, 1)
        XCTAssertEqual(perfect.precisionRecall.averagePrecision, 1)
        let reversed = try XCTUnwrap(BinaryCurves(scores: [0.1, 0.2, 0.8, 0.9], labels: [1, 1, 0, 0]))
        XCTAssertEqual(reversed.roc.auc, 0)
        for threshold in [Double.nan, .infinity] {
            let point = try XCTUnwrap(OperatingPoint(scores: [0.1, 0.9], labels: [0, 1], threshold: threshold))
            XCTAssertEqual([point.truePositives, point.falsePositives, point.trueNegatives, point.falseNegatives], [0, 0, 1, 1])
        }
        let all = try XCTUnwrap(OperatingPoint(scores: [0.1, 0.9], labels: [0, 1], threshold: -.infinity))
        XCTAssertEqual([all.truePositives, all.falsePositives], [1, 1])
        XCTAssertEqual(all.precision, 0.5)
    }

    /// numpy's pairwise summation, on sizes around its block boundaries (8 and 128).
    func testNumpySumOnBlockBoundaries() {
        for n in [0, 1, 7, 8, 9, 127, 128, 129, 300, 1000] {
            let values = (0..<n).map { Double($0 % 7) * 0.125 }
            XCTAssertEqual(numpySum(values), values.reduce(0, +), "n = \(n)")   // exact: multiples of 1/8
        }
        XCTAssertEqual(numpySum([-0.0]).sign, .plus)    // numpy: np.sum([-0.0]) == 0.0
    }

    /// The first ROC threshold (+infinity) is encoded as null; everything round-trips.
    func testJSONRoundTripWithInfiniteThreshold() throws {
        let result = try XCTUnwrap(BinaryCurves(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1], threshold: 0.4))
        XCTAssertEqual(result.roc.thresholds.first, .infinity)
        let data = try JSONEncoder().encode(result)
        let json = try XCTUnwrap(String(data: data, encoding: .utf8))
        XCTAssertTrue(json.contains("\"thresholds\":[null,0.8"), json)
        XCTAssertEqual(try JSONDecoder().decode(BinaryCurves.self, from: data), result)

        let undefined = try XCTUnwrap(BinaryCurves(scores: [0.3, 0.6], labels: [1, 1]))
        let undefinedData = try JSONEncoder().encode(undefined)
        XCTAssertFalse(String(decoding: undefinedData, as: UTF8.self).contains("falsePositiveRates"))
        XCTAssertEqual(try JSONDecoder().decode(BinaryCurves.self, from: undefinedData), undefined)
    }
}
