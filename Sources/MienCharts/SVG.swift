import Foundation

/// One SVG (XML) element: a name, attributes in insertion order, child elements and
/// optional text. A plain value, so charts are built as data and rendered once; the
/// same tree renders as a standalone `.svg` file or inline in an HTML page.
///
/// Element and attribute *names* are written as given (they come from this module's
/// code, not from data); attribute *values* and text are always escaped.
public struct SVGElement: Sendable, Equatable {
    public struct Attribute: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var name: String
    /// Written in this order (stable output makes diffs and golden files meaningful).
    public var attributes: [Attribute]
    public var children: [SVGElement]
    /// Character data. An element with text is written on one line with its children
    /// first (e.g. a `<title>` tooltip) and then the text, because whitespace inside a
    /// `<text>` element would be drawn.
    public var text: String?

    public init(_ name: String, _ attributes: KeyValuePairs<String, String> = [:],
                text: String? = nil, children: [SVGElement] = []) {
        self.name = name
        self.attributes = attributes.map { Attribute($0.key, $0.value) }
        self.text = text
        self.children = children
    }

    /// The value of attribute `name`; setting replaces it in place (keeping its position)
    /// or appends it, and setting nil removes it.
    public subscript(attribute name: String) -> String? {
        get { attributes.first { $0.name == name }?.value }
        set {
            if let index = attributes.firstIndex(where: { $0.name == name }) {
                if let newValue { attributes[index].value = newValue } else { attributes.remove(at: index) }
            } else if let newValue {
                attributes.append(Attribute(name, newValue))
            }
        }
    }

    /// A copy with attribute `name` set (builder style, for chaining).
    public func setting(_ name: String, _ value: String) -> SVGElement {
        var copy = self
        copy[attribute: name] = value
        return copy
    }

    /// A copy with numeric attribute `name` set, formatted by `SVGFormat.number`.
    public func setting(_ name: String, _ value: Double) -> SVGElement {
        setting(name, SVGFormat.number(value))
    }

    /// A copy with a `<title>` first child: browsers show it as a tooltip on hover.
    public func tooltip(_ text: String) -> SVGElement {
        var copy = self
        copy.children.insert(SVGElement("title", text: text), at: 0)
        return copy
    }

    public mutating func append(_ child: SVGElement) {
        children.append(child)
    }

    /// This element and its descendants as XML, one element per line.
    public func render() -> String {
        var output = ""
        render(into: &output)
        return output
    }

    func render(into output: inout String, inline: Bool = false) {
        output += "<" + name
        for attribute in attributes {
            output += " " + attribute.name + "=\"" + SVGFormat.escape(attribute.value) + "\""
        }
        if children.isEmpty && text == nil {
            output += "/>"
            return
        }
        output += ">"
        // Inside text, newlines between children would become visible spaces.
        let oneLine = inline || text != nil
        for child in children {
            if !oneLine { output += "\n" }
            child.render(into: &output, inline: oneLine)
        }
        if let text { output += SVGFormat.escape(text) }
        if !oneLine { output += "\n" }
        output += "</" + name + ">"
    }
}

/// A whole SVG picture: the root `<svg>` element with its size, view box and font.
public struct SVGDocument: Sendable, Equatable {
    public var width: Double
    public var height: Double
    /// Unquoted family names, so the attribute needs no `'` entities.
    public var fontFamily: String
    /// The accessible name (`aria-label`), usually the chart's title; empty for none.
    public var label: String
    public var children: [SVGElement]

    public static let defaultFontFamily = "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"

    public init(width: Double, height: Double, label: String = "",
                fontFamily: String = SVGDocument.defaultFontFamily, children: [SVGElement] = []) {
        self.width = width
        self.height = height
        self.label = label
        self.fontFamily = fontFamily
        self.children = children
    }

    public mutating func append(_ element: SVGElement) {
        children.append(element)
    }

    /// The root element. No `id`s are used anywhere, so several charts can be inlined in
    /// one HTML page without clashes.
    public var root: SVGElement {
        var svg = SVGElement("svg", [
            "xmlns": "http://www.w3.org/2000/svg",
            "width": SVGFormat.number(width),
            "height": SVGFormat.number(height),
            "viewBox": "0 0 \(SVGFormat.number(width)) \(SVGFormat.number(height))",
            "font-family": fontFamily,
        ])
        if !label.isEmpty {
            svg[attribute: "role"] = "img"
            svg[attribute: "aria-label"] = label
        }
        svg.children = children
        return svg
    }

    /// The document as text: with `xmlDeclaration` for a standalone `.svg` file, without
    /// it for inlining in HTML (where an XML declaration is not allowed).
    public func render(xmlDeclaration: Bool = false) -> String {
        var output = xmlDeclaration ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" : ""
        root.render(into: &output)
        output += "\n"
        return output
    }

    /// Writes a standalone `.svg` file (UTF-8, with the XML declaration).
    public func write(to url: URL) throws {
        try Data(render(xmlDeclaration: true).utf8).write(to: url, options: .atomic)
    }
}
