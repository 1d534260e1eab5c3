import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// Parses `svg` with Foundation's XML parser: throws (failing the test) unless it is
/// well-formed XML; returns the root element.
func parseSVG(_ svg: String, file: StaticString = #filePath, line: UInt = #line) throws -> XMLElement {
    let document = try XMLDocument(xmlString: svg, options: [])
    return try XCTUnwrap(document.rootElement(), "no root element", file: file, line: line)
}

extension XMLElement {
    /// The element's name without namespace prefix.
    var plainName: String { localName ?? name ?? "" }

    /// All descendant elements named `name`, in document order (namespaces ignored, so
    /// no XPath namespace set-up is needed for the SVG default namespace).
    func descendants(named name: String) -> [XMLElement] {
        var found: [XMLElement] = []
        for case let child as XMLElement in children ?? [] {
            if child.plainName == name { found.append(child) }
            found += child.descendants(named: name)
        }
        return found
    }

    /// Descendant elements whose `class` attribute contains the word `className`.
    func descendants(withClass className: String) -> [XMLElement] {
        var found: [XMLElement] = []
        for case let child as XMLElement in children ?? [] {
            if child["class"]?.split(separator: " ").contains(Substring(className)) == true { found.append(child) }
            found += child.descendants(withClass: className)
        }
        return found
    }

    /// The attribute's value. (FoundationXML's `attribute(forName:)` finds nothing on
    /// elements in a default namespace, so this searches the list.)
    subscript(_ attribute: String) -> String? {
        attributes?.first { $0.name == attribute }?.stringValue
    }

    /// The element's own character data, without that of child elements (e.g. a `<text>`
    /// without its `<title>` tooltip).
    var ownText: String {
        (children ?? []).filter { $0.kind == .text }.compactMap(\.stringValue).joined()
    }

    /// The `<title>` child's text, if any.
    var tooltip: String? {
        (children ?? []).compactMap { $0 as? XMLElement }.first { $0.plainName == "title" }?.stringValue
    }

    func number(_ attribute: String) -> Double? {
        self[attribute].flatMap(Double.init)
    }
}

/// Fails if `svg` contains a non-finite number or anything that looks like one.
func assertNoNonFinite(_ svg: String, file: StaticString = #filePath, line: UInt = #line) {
    let lowered = svg.lowercased()
    XCTAssertFalse(lowered.contains("nan"), "NaN in output", file: file, line: line)
    XCTAssertFalse(lowered.contains("inf"), "inf in output", file: file, line: line)
}

/// Fails if any `<text>`, `<rect>`, `<circle>` or `<line>` starts outside the picture
/// (rotated texts are checked at their anchor).
func assertInsideViewBox(_ root: XMLElement, file: StaticString = #filePath, line: UInt = #line) {
    guard let width = root.number("width"), let height = root.number("height") else {
        return XCTFail("root has no size", file: file, line: line)
    }
    XCTAssertEqual(root["viewBox"], "0 0 \(root["width"]!) \(root["height"]!)", file: file, line: line)
    func check(_ x: Double?, _ y: Double?, _ what: String) {
        if let x { XCTAssert(x >= 0 && x <= width, "\(what) x = \(x) outside 0...\(width)", file: file, line: line) }
        if let y { XCTAssert(y >= 0 && y <= height, "\(what) y = \(y) outside 0...\(height)", file: file, line: line) }
    }
    for text in root.descendants(named: "text") {
        check(text.number("x"), text.number("y"), "text \"\(text.ownText)\"")
    }
    for rect in root.descendants(named: "rect") {
        check(rect.number("x"), rect.number("y"), "rect")
        if let x = rect.number("x"), let w = rect.number("width") { check(x + w, nil, "rect right") }
        if let y = rect.number("y"), let h = rect.number("height") { check(nil, y + h, "rect bottom") }
    }
    for element in root.descendants(named: "line") {
        check(element.number("x1"), element.number("y1"), "line start")
        check(element.number("x2"), element.number("y2"), "line end")
    }
}
