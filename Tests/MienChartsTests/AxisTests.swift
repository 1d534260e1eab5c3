import XCTest
@testable import MienCharts

final class AxisTests: XCTestCase {
    func testUnitRange() {
        let ticks = Ticks(covering: [0, 1])
        XCTAssertEqual(ticks.step, 0.2, accuracy: 1e-12)
        XCTAssertEqual(ticks.values, [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(ticks.labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertEqual(ticks.lower, 0)
        XCTAssertEqual(ticks.upper, 1)
        XCTAssertEqual(Ticks(fixed: 0...1), ticks)
    }

    func testPartialRangeWidensToWholeSteps() {
        let ticks = Ticks(covering: [0.23, 0.91, 0.5])
        XCTAssertEqual(ticks.values, [0.2, 0.4, 0.6, 0.8, 1.0])
        XCTAssertEqual(ticks.labels, ["0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertEqual(ticks.lower, 0.2)
        XCTAssertEqual(ticks.upper, 1.0)
    }

    func testFixedRangeKeepsItsEnds() {
        let ticks = Ticks(fixed: 0.23...0.91)
        XCTAssertEqual(ticks.lower, 0.23)
        XCTAssertEqual(ticks.upper, 0.91)
        XCTAssertEqual(ticks.values, [0.4, 0.6, 0.8], "ticks inside the range only")
        XCTAssertEqual(ticks.labels, ["0.4", "0.6", "0.8"])
    }

    func testEpochs() {
        let ticks = Ticks(covering: (1...20).map(Double.init), integers: true)
        XCTAssertEqual(ticks.values, [0, 5, 10, 15, 20])
        XCTAssertEqual(ticks.labels, ["0", "5", "10", "15", "20"])
        let three = Ticks(covering: [1, 2, 3], integers: true)
        XCTAssertEqual(three.values, [1, 2, 3], "no half epochs")
        XCTAssertEqual(three.labels, ["1", "2", "3"])
    }

    func testSingleValue() {
        let epoch = Ticks(covering: [1], integers: true)
        XCTAssertEqual(epoch.values, [0, 1, 2])
        let loss = Ticks(covering: [0.5, 0.5])
        XCTAssertLessThan(loss.lower, 0.5)
        XCTAssertGreaterThan(loss.upper, 0.5)
        XCTAssertEqual(loss.labels, ["0.45", "0.50", "0.55"])
        XCTAssertEqual(Set(loss.labels).count, loss.labels.count, "distinct labels")
        let zero = Ticks(covering: [0])
        XCTAssertEqual(zero.lower, -1)
        XCTAssertEqual(zero.upper, 1)
        XCTAssertFalse(zero.labels.contains("-0.0"))
        let big = Ticks(covering: [1234])
        XCTAssert(big.lower < 1234 && big.upper > 1234)
    }

    func testNoFiniteValues() {
        for values: [Double] in [[], [.nan], [.nan, .infinity, -.infinity]] {
            let ticks = Ticks(covering: values)
            XCTAssertEqual(ticks.lower, 0)
            XCTAssertEqual(ticks.upper, 1)
            XCTAssertEqual(ticks.values.count, 6)
        }
        XCTAssertEqual(Ticks(covering: [.nan, 0.23, .infinity, 0.91]).values, [0.2, 0.4, 0.6, 0.8, 1.0])
    }

    func testNegativeAndLargeRanges() {
        let negative = Ticks(covering: [-0.3, 0.25])
        XCTAssertEqual(negative.values, [-0.4, -0.2, 0, 0.2, 0.4])
        XCTAssertEqual(negative.labels, ["-0.4", "-0.2", "0.0", "0.2", "0.4"], "no -0.0")
        let large = Ticks(covering: [0, 3_200_000])
        XCTAssertEqual(large.values.last, 4_000_000)
        XCTAssertEqual(large.labels.last, "4e6")
        let tiny = Ticks(covering: [0.000_012, 0.000_019])
        XCTAssert(tiny.values.count >= 2)
        XCTAssert(tiny.labels.allSatisfy { !$0.contains("nan") && !$0.isEmpty })
        let extreme = Ticks(covering: [-1e308, 1e308])
        XCTAssert(extreme.values.allSatisfy(\.isFinite))
    }

    func testTickCountRespectsMaximum() {
        for (low, high) in [(0.0, 1.0), (0.31, 1.42), (3.0, 97.0), (-5.0, 5.0), (0.001, 0.0042), (10.0, 11.0)] {
            for intervals in 1...8 {
                let ticks = Ticks(covering: [low, high], maxIntervals: intervals)
                XCTAssertLessThanOrEqual(ticks.values.count - 1, intervals, "\(low)...\(high) max \(intervals)")
                XCTAssertLessThanOrEqual(ticks.lower, low)
                XCTAssertGreaterThanOrEqual(ticks.upper, high)
                let mantissa = ticks.step / pow(10, floor(log10(ticks.step)))
                XCTAssert([1, 2, 5].contains { abs($0 - mantissa) < 1e-9 }, "step \(ticks.step)")
            }
        }
    }

    func testAbsurdTickCountsAreBounded() {
        XCTAssertLessThanOrEqual(Ticks(covering: [0, 1], maxIntervals: .max).values.count, 101)
        XCTAssertEqual(Ticks(covering: [0, 1], maxIntervals: -3).values, [0, 1])
    }

    func testLabels() {
        XCTAssertEqual(Ticks.label(0.25, step: 0.05), "0.25")
        XCTAssertEqual(Ticks.label(20, step: 5), "20")
        XCTAssertEqual(Ticks.label(-0.0, step: 0.1), "0.0")
        XCTAssertEqual(Ticks.label(-0.00001, step: 0.1), "0.0")
        XCTAssertEqual(Ticks.label(2_000_000, step: 1_000_000), "2e6")
        XCTAssertEqual(Ticks.label(.nan, step: 1), "")
    }
}
