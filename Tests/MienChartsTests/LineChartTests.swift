import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import MienCharts

final class LineChartTests: XCTestCase {
    private let training = [1.42, 0.95, 0.71, 0.58, 0.49, 0.43, 0.39, 0.36, 0.34, 0.33]
    private let validation = [1.21, 0.88, 0.74, 0.66, 0.62, 0.60, 0.59, 0.61, 0.63, 0.66]

    /// Renders, checks well-formedness and the invariants every chart must keep.
    private func render(_ chart: LineChart, file: StaticString = #filePath, line: UInt = #line) throws -> (String, XMLElement) {
        let svg = chart.svg().render()
        let root = try parseSVG(svg, file: file, line: line)
        assertNoNonFinite(svg, file: file, line: line)
        assertInsideViewBox(root, file: file, line: line)
        return (svg, root)
    }

    private func texts(_ element: XMLElement) -> [String] {
        element.descendants(named: "text").map(\.ownText)
    }

    func testLearningCurves() throws {
        let chart = LineChart(title: "Loss", xTitle: "epoch", yTitle: "loss",
                              series: [LineSeries("training", perEpoch: training),
                                       LineSeries("validation", perEpoch: validation, dashed: true)],
                              integerX: true)
        let (_, root) = try render(chart)
        XCTAssertEqual(root["width"], "480")
        XCTAssertEqual(root["height"], "320")
        let series = root.descendants(withClass: "series")
        XCTAssertEqual(series.count, 2)
        XCTAssertEqual(series.map(\.tooltip), ["training", "validation"])
        let lines = root.descendants(named: "polyline")
        XCTAssertEqual(lines.count, 2, "one polyline per series")
        XCTAssertEqual(lines.map { $0["points"]?.split(separator: " ").count }, [10, 10])
        XCTAssertNotEqual(lines[0]["stroke"], lines[1]["stroke"], "distinct colours")
        XCTAssertNil(lines[0]["stroke-dasharray"])
        XCTAssertNotNil(lines[1]["stroke-dasharray"])
        XCTAssertEqual(series.map { $0.descendants(named: "circle").count }, [10, 10], "markers on short series")

        let legend = try XCTUnwrap(root.descendants(withClass: "legend").first)
        XCTAssertEqual(texts(legend), ["training", "validation"])
        XCTAssertEqual(legend.descendants(named: "line").map { $0["stroke"] }, lines.map { $0["stroke"] })

        let xAxis = try XCTUnwrap(root.descendants(withClass: "x").first)
        XCTAssertEqual(texts(xAxis), ["0", "2", "4", "6", "8", "10", "epoch"])
        let yAxis = try XCTUnwrap(root.descendants(withClass: "y").first)
        XCTAssertEqual(texts(yAxis), ["0.0", "0.5", "1.0", "1.5", "loss"])
        XCTAssertEqual(yAxis.descendants(named: "text").last?["transform"]?.hasPrefix("rotate(-90"), true)
        XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "title").first)), ["Loss"])
    }

    func testSeriesPointsMapToPlotCoordinates() throws {
        let chart = LineChart(series: [LineSeries("s", x: [0, 1], y: [0, 1])], xRange: 0...1, yRange: 0...1)
        let (_, root) = try render(chart)
        let plot = try XCTUnwrap(root.descendants(withClass: "plot").first)
        let points = try XCTUnwrap(root.descendants(named: "polyline").first?["points"])
            .split(separator: " ").map { $0.split(separator: ",").compactMap { Double($0) } }
        let (x, y, w, h) = (plot.number("x")!, plot.number("y")!, plot.number("width")!, plot.number("height")!)
        let pad = 6.0
        XCTAssertEqual(points[0][0], x + pad, accuracy: 0.01)
        XCTAssertEqual(points[0][1], y + h - pad, accuracy: 0.01)
        XCTAssertEqual(points[1][0], x + w - pad, accuracy: 0.01)
        XCTAssertEqual(points[1][1], y + pad, accuracy: 0.01)
        XCTAssertEqual(plot["viewBox"], [x, y, w, h].map(SVGFormat.number).joined(separator: " "), "identity viewport")
    }

    func testSinglePointSeriesGetsMarker() throws {
        for markers in [LineSeries.Markers.automatic, .always, .never] {
            let chart = LineChart.learningCurve(title: "One epoch", metric: "loss", training: [0.7])
            var oneEpoch = chart
            oneEpoch.series[0].markers = markers
            let (_, root) = try render(oneEpoch)
            XCTAssertEqual(root.descendants(named: "polyline").count, 0)
            let series = try XCTUnwrap(root.descendants(withClass: "series").first)
            XCTAssertEqual(series.descendants(named: "circle").count, 1, "\(markers)")
            XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "x").first)), ["0", "1", "2", "epoch"])
        }
    }

    func testDenseCurvesHaveNoMarkersByDefault() throws {
        let xs = (0...100).map { Double($0) / 100 }
        let (_, root) = try render(LineChart(series: [LineSeries("dense", x: xs, y: xs.map { $0 * $0 })]))
        XCTAssertEqual(root.descendants(named: "circle").count, 0)
    }

    func testNonFinitePointsAreSkipped() throws {
        let chart = LineChart(series: [LineSeries("loss", perEpoch: [0.5, .nan, 0.4, .infinity, -.infinity, 0.3])])
        let (_, root) = try render(chart)
        XCTAssertEqual(root.descendants(named: "polyline").first?["points"]?.split(separator: " ").count, 3)
    }

    func testNoDataStillDrawsAxes() throws {
        for series in [[], [LineSeries("validation", perEpoch: [.nan, .nan])]] {
            let (svg, root) = try render(LineChart(title: "Empty", xTitle: "epoch", yTitle: "loss", series: series))
            XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "no-data").first)), ["no data"])
            XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "y").first)).first, "0.0")
            XCTAssertEqual(root.descendants(named: "polyline").count, 0)
            if !series.isEmpty { XCTAssertTrue(svg.contains("validation (no data)")) }
        }
    }

    func testFixedYRangeAndClipping() throws {
        let chart = LineChart(yTitle: "accuracy", series: [LineSeries("accuracy", perEpoch: [0.4, 0.8, 1.7])], yRange: 0...1)
        let (_, root) = try render(chart)
        XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "y").first)),
                       ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0", "accuracy"])
        // The out-of-range point is drawn inside the clipping viewport, not elsewhere.
        let plot = try XCTUnwrap(root.descendants(withClass: "plot").first)
        XCTAssertEqual(plot["overflow"], "hidden")
        XCTAssertEqual(plot.descendants(named: "polyline").count, 1)
    }

    func testBestEpochMark() throws {
        let chart = LineChart.learningCurve(title: "Loss", metric: "loss", training: training,
                                            validation: validation, bestEpoch: 7)
        let (_, root) = try render(chart)
        let mark = try XCTUnwrap(root.descendants(withClass: "mark").first)
        XCTAssertEqual(texts(mark), ["best epoch 7"])
        let line = try XCTUnwrap(mark.descendants(named: "line").first)
        XCTAssertEqual(line["x1"], line["x2"], "vertical")
        let dot = try XCTUnwrap(mark.descendants(named: "circle").first)
        XCTAssertEqual(dot["cx"], line["x1"])
        // The dot sits on the 7th validation marker.
        let validationMarkers = root.descendants(withClass: "series")[1].descendants(named: "circle")
        XCTAssertEqual(validationMarkers[6]["cx"], dot["cx"])
        XCTAssertEqual(validationMarkers[6]["cy"], dot["cy"])
    }

    func testMarkOutsideRangeIsSkipped() throws {
        let chart = LineChart(series: [LineSeries("a", perEpoch: [1, 2])], xRange: 0...3,
                              marks: [.vertical(at: 10, label: "far"), .point(x: 1, y: .nan, label: "nan")])
        let (svg, root) = try render(chart)
        XCTAssertTrue(root.descendants(withClass: "mark").isEmpty)
        XCTAssertFalse(svg.contains("far"))
    }

    func testROCCurve() throws {
        let fpr = [0, 0, 0.1, 0.1, 0.3, 0.6, 1]
        let tpr = [0, 0.5, 0.7, 0.85, 0.95, 1, 1]
        let chart = LineChart.roc(falsePositiveRates: fpr, truePositiveRates: tpr, auc: 0.9342,
                                  operatingPoint: .point(x: 0.1, y: 0.85, label: "threshold 0.5"))
        let (_, root) = try render(chart)
        XCTAssertEqual(root.descendants(named: "polyline").count, 1)
        let diagonal = try XCTUnwrap(root.descendants(withClass: "diagonal").first)
        XCTAssertNotNil(diagonal["stroke-dasharray"])
        XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "legend").first)), ["model", "chance"])
        XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "annotations").first)), ["AUC = 0.934"])
        let mark = try XCTUnwrap(root.descendants(withClass: "mark").first)
        XCTAssertEqual(texts(mark), ["threshold 0.5"])
        XCTAssertEqual(mark.descendants(named: "circle").count, 1)
        XCTAssertTrue(mark.descendants(named: "line").isEmpty)
        // Equal aspect: the plot area is square.
        let plot = try XCTUnwrap(root.descendants(withClass: "plot").first)
        XCTAssertEqual(plot.number("width")!, plot.number("height")!, accuracy: 0.02)
        // The chance line runs corner to corner of the plot.
        let pad = 6.0
        XCTAssertEqual(diagonal.number("x1")!, plot.number("x")! + pad, accuracy: 0.01)
        XCTAssertEqual(diagonal.number("y2")!, plot.number("y")! + pad, accuracy: 0.01)
        XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "x").first)).last, "false positive rate")
    }

    func testPrecisionRecallCurve() throws {
        let chart = LineChart.precisionRecall(recall: [0, 0.5, 0.8, 1], precision: [1, 0.9, 0.7, 0.3],
                                              averagePrecision: 0.912, positiveRate: 0.3,
                                              operatingPoint: .point(x: 0.8, y: 0.7, label: "threshold 0.5"))
        let (_, root) = try render(chart)
        XCTAssertEqual(root.descendants(named: "polyline").count, 2, "the curve and the chance level")
        XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "legend").first)), ["model", "chance"])
        XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "annotations").first)), ["AP = 0.912"])
        XCTAssertEqual(root.descendants(withClass: "mark").count, 1)
    }

    func testUndefinedCurveShowsNoData() throws {
        let chart = LineChart.roc(falsePositiveRates: [], truePositiveRates: [], auc: .nan)
        let (_, root) = try render(chart)
        XCTAssertEqual(root.descendants(withClass: "no-data").count, 1)
        XCTAssertTrue(root.descendants(withClass: "annotations").isEmpty)
    }

    func testNamesAreEscaped() throws {
        let name = #"a<b & "c""#
        let chart = LineChart(title: name, xTitle: name, yTitle: name, series: [LineSeries(name, perEpoch: [1, 2])],
                              annotations: [name])
        let (svg, root) = try render(chart)
        XCTAssertTrue(svg.contains("a&lt;b &amp; &quot;c&quot;"))
        XCTAssertEqual(texts(try XCTUnwrap(root.descendants(withClass: "legend").first)), [name])
        XCTAssertEqual(root.descendants(withClass: "series").first?.tooltip, name)
        XCTAssertEqual(root["aria-label"], name)
    }

    func testLongTextsAreShortenedWithTooltips() throws {
        let long = String(repeating: "very long title ", count: 10)
        let chart = LineChart(title: long, series: (0..<9).map { LineSeries("series number \($0) with a long name", perEpoch: [1, 2, Double($0)]) })
        let (_, root) = try render(chart)
        let title = try XCTUnwrap(root.descendants(withClass: "title").first?.descendants(named: "text").first)
        XCTAssertTrue(title.ownText.hasSuffix("…"))
        XCTAssertEqual(title.tooltip, long)
        let legend = try XCTUnwrap(root.descendants(withClass: "legend").first)
        XCTAssertEqual(legend.descendants(withClass: "legend-entry").count, 9)
        let rows = Set(legend.descendants(named: "text").compactMap { $0["y"] })
        XCTAssertGreaterThan(rows.count, 2, "the legend wraps")
        XCTAssertEqual(Set(root.descendants(named: "polyline").compactMap { $0["stroke"] }).count, 8, "palette cycles after 8")
    }

    func testOddSizes() throws {
        for (width, height) in [(Double.nan, 320.0), (10, 10), (1200, 200), (200, 900), (1e300, -5)] {
            let chart = LineChart(title: "t", xTitle: "x", yTitle: "y",
                                  series: [LineSeries("a", perEpoch: training)], width: width, height: height)
            _ = try render(chart)
        }
    }
}
