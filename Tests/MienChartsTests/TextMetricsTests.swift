import XCTest
@testable import MienCharts

final class TextMetricsTests: XCTestCase {
    func testWidthGrowsWithTextAndSize() {
        XCTAssertEqual(TextMetrics.width("", size: 12), 0)
        XCTAssertLessThan(TextMetrics.width("iii", size: 12), TextMetrics.width("MMM", size: 12))
        XCTAssertEqual(TextMetrics.width("abc", size: 24), 2 * TextMetrics.width("abc", size: 12), accuracy: 1e-9)
        XCTAssertGreaterThan(TextMetrics.width("abc", size: 12, bold: true), TextMetrics.width("abc", size: 12))
    }

    func testTruncation() {
        let name = "a long class name surprise"
        XCTAssertEqual(TextMetrics.truncate("short", toWidth: 100, size: 12).text, "short")
        XCTAssertFalse(TextMetrics.truncate("short", toWidth: 100, size: 12).truncated)
        let end = TextMetrics.truncate(name, toWidth: 80, size: 12)
        XCTAssertTrue(end.truncated)
        XCTAssertTrue(end.text.hasPrefix("a long"))
        XCTAssertTrue(end.text.hasSuffix("…"))
        XCTAssertLessThanOrEqual(TextMetrics.width(end.text, size: 12), 80)
        let middle = TextMetrics.truncate(name, toWidth: 100, size: 12, middle: true)
        XCTAssertTrue(middle.text.hasPrefix("a long"), middle.text)
        XCTAssertTrue(middle.text.hasSuffix("rise"), middle.text)
        XCTAssertTrue(middle.text.contains("…"), middle.text)
        XCTAssertLessThanOrEqual(TextMetrics.width(middle.text, size: 12), 100)
        XCTAssertEqual(TextMetrics.truncate(name, toWidth: 0, size: 12).text, "…")
        XCTAssertTrue(TextMetrics.truncate("👩‍👩‍👧 family", toWidth: 70, size: 12).text.hasPrefix("👩‍👩‍👧"), "never splits a character")
        XCTAssertEqual(TextMetrics.truncate("👩‍👩‍👧 family", toWidth: 40, size: 12).text, "…")
    }
}
