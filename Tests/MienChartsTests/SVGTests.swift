import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import MienTestSupport
@testable import MienCharts

final class SVGTests: XCTestCase {
    func testEscapesTextAndAttributeValues() throws {
        let raw = #"a<b & "c" 'd' >"#
        XCTAssertEqual(SVGFormat.escape(raw), "a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt;")
        let element = SVGElement("text", ["data-name": raw], text: raw)
        XCTAssertEqual(element.render(),
                       #"<text data-name="a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt;">a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt;</text>"#)
        let parsed = try parseSVG(SVGDocument(width: 10, height: 10, children: [element]).render())
        let text = try XCTUnwrap(parsed.descendants(named: "text").first)
        XCTAssertEqual(text.ownText, raw)
        XCTAssertEqual(text["data-name"], raw)
    }

    func testDropsCharactersXMLForbids() throws {
        let element = SVGElement.text("bell\u{07}null\u{00}tab\tok\u{FFFF}", x: 0, y: 0)
        let parsed = try parseSVG(SVGDocument(width: 10, height: 10, children: [element]).render())
        XCTAssertEqual(parsed.descendants(named: "text").first?.ownText, "bellnulltab\tok")
    }

    func testNumbersAreCompact() {
        let cases: [(Double, String)] = [
            (0, "0"), (-0.0, "0"), (-0.001, "0"), (0.004, "0"), (1, "1"), (480, "480"), (1.5, "1.5"),
            (1.25, "1.25"), (0.05, "0.05"), (12.3456, "12.35"), (-3.1, "-3.1"), (-0.25, "-0.25"),
            (2.999, "3"), (100.1, "100.1"), (1e6, "1000000"), (.nan, "0"), (.infinity, "0"), (-.infinity, "0"),
        ]
        for (value, expected) in cases {
            XCTAssertEqual(SVGFormat.number(value), expected, "\(value)")
        }
        XCTAssertFalse(SVGFormat.number(1e300).contains("e"))
    }

    func testAttributesKeepInsertionOrder() {
        var element = SVGElement("rect", ["z": "1", "a": "2", "m": "3"])
        element[attribute: "a"] = "changed"
        element[attribute: "b"] = "new"
        element[attribute: "z"] = nil
        XCTAssertEqual(element.attributes.map(\.name), ["a", "m", "b"])
        XCTAssertEqual(element.render(), #"<rect a="changed" m="3" b="new"/>"#)
        XCTAssertEqual(element[attribute: "m"], "3")
        XCTAssertNil(element[attribute: "z"])
    }

    func testDocumentRendersStandaloneAndInline() throws {
        let document = SVGDocument(width: 480, height: 320.5, label: "Loss & accuracy",
                                   children: [.rect(x: 0, y: 0, width: 10, height: 10, fill: "#fff")])
        let standalone = document.render(xmlDeclaration: true)
        let inline = document.render()
        XCTAssertTrue(standalone.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "))
        XCTAssertTrue(inline.hasPrefix("<svg "))
        XCTAssertFalse(inline.contains("<?xml"))
        for text in [standalone, inline] {
            let root = try parseSVG(text)
            XCTAssertEqual(root.plainName, "svg")
            XCTAssertEqual(root.uri ?? root.namespace(forPrefix: "")?.stringValue, "http://www.w3.org/2000/svg")
            XCTAssertEqual(root["width"], "480")
            XCTAssertEqual(root["height"], "320.5")
            XCTAssertEqual(root["viewBox"], "0 0 480 320.5")
            XCTAssertEqual(root["font-family"], SVGDocument.defaultFontFamily)
            XCTAssertEqual(root["aria-label"], "Loss & accuracy")
            XCTAssertEqual(root.descendants(named: "rect").count, 1)
        }
        XCTAssertTrue(inline.contains(#"xmlns="http://www.w3.org/2000/svg""#))
    }

    func testShapes() throws {
        let shapes: [SVGElement] = [
            .line(x1: 1, y1: 2, x2: 3, y2: 4, stroke: "#123456", dash: "4 2"),
            .polyline([(x: 0, y: 0), (x: 10.5, y: 20.25)], stroke: "red"),
            .path(SVGElement.pathData([(x: 0, y: 0), (x: 5, y: 5), (x: 0, y: 5)], closed: true), fill: "blue", stroke: nil),
            .rect(x: 1, y: 1, width: -5, height: 3, fill: "#eee", stroke: "#000"),
            .text("right", x: 5, y: 6, anchor: .end, size: 11, bold: true),
            .text("up", x: 5, y: 6, rotation: -90),
            .circle(cx: 1, cy: 2, r: 3),
            .group(class: "legend", transform: "translate(2 3)", [.title("tip")]),
        ]
        let root = try parseSVG(SVGDocument(width: 50, height: 50, children: shapes).render())
        let line = try XCTUnwrap(root.descendants(named: "line").first)
        XCTAssertEqual([line["x1"], line["y1"], line["x2"], line["y2"], line["stroke"], line["stroke-dasharray"]],
                       ["1", "2", "3", "4", "#123456", "4 2"])
        XCTAssertEqual(root.descendants(named: "polyline").first?["points"], "0,0 10.5,20.25")
        XCTAssertEqual(root.descendants(named: "polyline").first?["fill"], "none")
        XCTAssertEqual(root.descendants(named: "path").first?["d"], "M0 0 L5 5 L0 5 Z")
        XCTAssertNil(root.descendants(named: "path").first?["stroke"])
        XCTAssertEqual(root.descendants(named: "rect").first?["width"], "0", "negative sizes are clamped")
        let texts = root.descendants(named: "text")
        XCTAssertEqual(texts[0]["text-anchor"], "end")
        XCTAssertEqual(texts[0]["font-weight"], "bold")
        XCTAssertEqual(texts[0]["font-size"], "11")
        XCTAssertNil(texts[1]["text-anchor"], "start is the default")
        XCTAssertEqual(texts[1]["transform"], "rotate(-90 5 6)")
        XCTAssertEqual(root.descendants(named: "circle").first?["r"], "3")
        let group = try XCTUnwrap(root.descendants(named: "g").first)
        XCTAssertEqual(group["class"], "legend")
        XCTAssertEqual(group["transform"], "translate(2 3)")
        XCTAssertEqual(group.tooltip, "tip")
    }

    func testTextWithTooltipStaysOnOneLine() {
        let text = SVGElement.text("short…", x: 0, y: 0).tooltip("a much longer name")
        let rendered = text.render()
        XCTAssertFalse(rendered.contains("\n"), "whitespace inside <text> would be drawn")
        XCTAssertTrue(rendered.hasSuffix("><title>a much longer name</title>short…</text>"))
        let group = SVGElement.group([.circle(cx: 0, cy: 0, r: 1), .circle(cx: 1, cy: 1, r: 1)]).render()
        XCTAssertEqual(group.split(separator: "\n").count, 4, "elements without text go one per line")
    }

    func testWritesStandaloneFile() throws {
        let folder = try makeTemporaryFolder("charts-svg")
        let url = folder.appendingPathComponent("chart.svg")
        try SVGDocument(width: 20, height: 10, children: [.circle(cx: 5, cy: 5, r: 2)]).write(to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("<?xml"))
        XCTAssertEqual(try parseSVG(text).descendants(named: "circle").count, 1)
    }

    func testColors() {
        XCTAssertEqual(RGBColor(hex: "#0072B2")?.hex, "#0072B2")
        XCTAssertEqual(RGBColor(hex: "0a0b0c"), RGBColor(red: 10, green: 11, blue: 12))
        XCTAssertNil(RGBColor(hex: "#888"))
        XCTAssertEqual(RGBColor.white.mixed(with: .black, 0.5).hex, "#808080")
        XCTAssertEqual(RGBColor.white.mixed(with: .black, .nan), .white)
        XCTAssertEqual(RGBColor.white.luminance, 1, accuracy: 1e-9)
        XCTAssertEqual(RGBColor.black.luminance, 0, accuracy: 1e-9)
        XCTAssertEqual(Set(Palette.okabeIto).count, 8)
        XCTAssertEqual(Palette.series(8), Palette.series(0))
    }
}
