import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import MienCharts

final class HeatMapTests: XCTestCase {
    private func render(_ chart: HeatMap, file: StaticString = #filePath, line: UInt = #line) throws -> (String, XMLElement) {
        let svg = chart.svg().render()
        let root = try parseSVG(svg, file: file, line: line)
        assertNoNonFinite(svg, file: file, line: line)
        assertInsideViewBox(root, file: file, line: line)
        return (svg, root)
    }

    /// Each cell's (count, percentage) texts, row by row.
    private func cellTexts(_ root: XMLElement) -> [[String]] {
        root.descendants(withClass: "cell").map { $0.descendants(named: "text").map(\.ownText) }
    }

    func testCountsAndRowPercentages() throws {
        let chart = HeatMap(counts: [[418, 49, 0], [12, 80, 8], [0, 1, 3]], classNames: ["cat", "dog", "fox"])
        let (_, root) = try render(chart)
        XCTAssertEqual(cellTexts(root), [
            ["418", "89.5%"], ["49", "10.5%"], ["0", "0.0%"],
            ["12", "12.0%"], ["80", "80.0%"], ["8", "8.0%"],
            ["0", "0.0%"], ["1", "25.0%"], ["3", "75.0%"],
        ])
        let rows = try XCTUnwrap(root.descendants(withClass: "rows").first)
        XCTAssertEqual(rows.descendants(named: "text").map(\.ownText), ["cat", "dog", "fox", "true"])
        let columns = try XCTUnwrap(root.descendants(withClass: "columns").first)
        XCTAssertEqual(columns.descendants(named: "text").map(\.ownText), ["cat", "dog", "fox", "predicted"])
        XCTAssertTrue(columns.descendants(named: "text").dropLast().allSatisfy { $0["transform"] == nil }, "short names stay level")
        XCTAssertEqual(root.descendants(withClass: "cell")[1].tooltip, "true cat, predicted dog: 49 of 467 (10.5%)")

        // Cells form a k × k grid of squares: row = true class, column = predicted.
        let rects = root.descendants(withClass: "cell").compactMap { $0.descendants(named: "rect").first }
        let xs = Set(rects.compactMap { $0["x"] }), ys = Set(rects.compactMap { $0["y"] })
        XCTAssertEqual(xs.count, 3)
        XCTAssertEqual(ys.count, 3)
        XCTAssertEqual(rects[0]["width"], rects[0]["height"])
        XCTAssertEqual(rects[1]["y"], rects[0]["y"], "same row")
        XCTAssertEqual(rects[3]["x"], rects[0]["x"], "same column")
    }

    func testColourFollowsRowShareWithReadableText() throws {
        let (_, root) = try render(HeatMap(counts: [[10, 0], [5, 5]], classNames: ["a", "b"]))
        let cells = root.descendants(withClass: "cell")
        let fills = cells.map { $0.descendants(named: "rect").first?["fill"] }
        XCTAssertEqual(fills[0], Palette.heatMapDark.hex, "a full row gets the dark end")
        XCTAssertEqual(fills[1], "#FFFFFF", "an empty cell stays white")
        XCTAssertEqual(fills[2], fills[3])
        let inks = cells.map { $0.descendants(named: "text").first?["fill"] }
        XCTAssertEqual(inks[0], "#fff", "white text on the dark cell")
        XCTAssertEqual(inks[1], "#111")
    }

    func testOneByOne() throws {
        let (_, root) = try render(HeatMap(counts: [[5]], classNames: ["only"]))
        XCTAssertEqual(cellTexts(root), [["5", "100.0%"]])
    }

    func testSevenBySeven() throws {
        let names = ["anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"]
        let counts = (0..<7).map { row in (0..<7).map { column in row == column ? 90 + row : (row + column) % 4 } }
        let (_, root) = try render(HeatMap(counts: counts, classNames: names))
        let cells = cellTexts(root)
        XCTAssertEqual(cells.count, 49)
        XCTAssertEqual(cells[0][0], "90")
        XCTAssertEqual(cells[48][0], "96")
        XCTAssertTrue(cells.allSatisfy { $0.count == 2 && $0[1].hasSuffix("%") })
        let rows = try XCTUnwrap(root.descendants(withClass: "rows").first)
        XCTAssertEqual(rows.descendants(named: "text").dropLast().map(\.ownText), names)
        // Cell text fits its cell.
        let rect = try XCTUnwrap(root.descendants(withClass: "cell").first?.descendants(named: "rect").first)
        let size = try XCTUnwrap(root.descendants(withClass: "cell").first?.descendants(named: "text").first?.number("font-size"))
        XCTAssertLessThanOrEqual(TextMetrics.width("100.0%", size: 0.85 * size), rect.number("width")!)
        XCTAssertGreaterThanOrEqual(size, 8, "readable at the default size")
    }

    func testEveryClassCountFits() throws {
        for k in 1...12 {
            let names = (0..<k).map { "class \($0)" }
            let counts = (0..<k).map { row in (0..<k).map { $0 == row ? 1000 : 7 } }
            let (_, root) = try render(HeatMap(counts: counts, classNames: names))
            XCTAssertEqual(root.descendants(withClass: "cell").count, k * k)
        }
    }

    func testEmptyRowShowsDash() throws {
        let (svg, root) = try render(HeatMap(counts: [[3, 1], [0, 0]], classNames: ["seen", "unseen"]))
        XCTAssertEqual(cellTexts(root), [["3", "75.0%"], ["1", "25.0%"], ["0", "–"], ["0", "–"]])
        XCTAssertFalse(svg.contains("NaN"))
        XCTAssertEqual(HeatMap.percentage(0, ofRow: 0), "–")
    }

    func testClassNamesAreEscaped() throws {
        let name = #"a<b & "c""#
        let (svg, root) = try render(HeatMap(counts: [[1, 2], [3, 4]], classNames: [name, "d'e"]))
        XCTAssertTrue(svg.contains("a&lt;b &amp; &quot;c&quot;"))
        XCTAssertTrue(svg.contains("d&apos;e"))
        let rows = try XCTUnwrap(root.descendants(withClass: "rows").first)
        XCTAssertEqual(rows.descendants(named: "text").map(\.ownText), [name, "d'e", "true"])
    }

    func testLongNamesAreRotatedAndShortened() throws {
        let names = (0..<7).map { "a really quite long class name number \($0)" }
        let counts = (0..<7).map { row in (0..<7).map { $0 == row ? 10 : 1 } }
        let (_, root) = try render(HeatMap(counts: counts, classNames: names))
        let columns = try XCTUnwrap(root.descendants(withClass: "columns").first)
        let labels = columns.descendants(named: "text").dropLast()
        XCTAssertEqual(labels.count, 7)
        for (label, name) in zip(labels, names) {
            XCTAssertEqual(label["transform"]?.hasPrefix("rotate(-45"), true)
            XCTAssertTrue(label.ownText.contains("…"))
            XCTAssertEqual(label.tooltip, name, "the full name on hover")
        }
        XCTAssertEqual(Set(labels.map(\.ownText)).count, 7, "shortened in the middle, names stay distinct")
        let rows = try XCTUnwrap(root.descendants(withClass: "rows").first)
        XCTAssertTrue(rows.descendants(named: "text").dropLast().allSatisfy { $0.tooltip != nil })
    }

    func testDegenerateInput() throws {
        let (_, empty) = try render(HeatMap(counts: [], classNames: []))
        XCTAssertEqual(empty.descendants(withClass: "no-data").count, 1)
        let (_, ragged) = try render(HeatMap(counts: [[1], [2, 3, 4]], classNames: ["x"]))
        XCTAssertEqual(cellTexts(ragged).count, 9, "3 × 3, missing counts as 0")
        XCTAssertEqual(ragged.descendants(withClass: "rows").first?.descendants(named: "text")[2].ownText, "class 2")
        for (width, height) in [(Double.nan, 400.0), (50, 50), (1000, 150)] {
            _ = try render(HeatMap(counts: [[1, 2], [3, 4]], classNames: ["p", "q"], width: width, height: height))
        }
    }
}
