/// Where a `<text>` is anchored relative to its x coordinate.
public enum TextAnchor: String, Sendable {
    case start, middle, end
}

/// Constructors for the few SVG shapes the charts draw. Styling goes into presentation
/// attributes (`fill`, `stroke`, ...) rather than CSS, so a standalone `.svg` file looks
/// the same as the inlined copy without any stylesheet.
extension SVGElement {
    public static func line(x1: Double, y1: Double, x2: Double, y2: Double,
                            stroke: String = "#000", strokeWidth: Double = 1, dash: String? = nil) -> SVGElement {
        var element = SVGElement("line")
            .setting("x1", x1).setting("y1", y1).setting("x2", x2).setting("y2", y2)
            .setting("stroke", stroke).setting("stroke-width", strokeWidth)
        if let dash { element[attribute: "stroke-dasharray"] = dash }
        return element
    }

    /// An open, unfilled line through `points`, with rounded joins so sharp turns of a
    /// learning curve do not spike.
    public static func polyline(_ points: [(x: Double, y: Double)], stroke: String = "#000",
                                strokeWidth: Double = 1.5, dash: String? = nil) -> SVGElement {
        var element = SVGElement("polyline", [
            "points": SVGFormat.points(points),
            "fill": "none",
            "stroke": stroke,
            "stroke-width": SVGFormat.number(strokeWidth),
            "stroke-linejoin": "round",
            "stroke-linecap": "round",
        ])
        if let dash { element[attribute: "stroke-dasharray"] = dash }
        return element
    }

    /// A `<path>` with data `d` (see `pathData`).
    public static func path(_ d: String, fill: String = "none", stroke: String? = "#000",
                            strokeWidth: Double = 1, dash: String? = nil) -> SVGElement {
        var element = SVGElement("path", ["d": d, "fill": fill])
        if let stroke {
            element[attribute: "stroke"] = stroke
            element[attribute: "stroke-width"] = SVGFormat.number(strokeWidth)
        }
        if let dash { element[attribute: "stroke-dasharray"] = dash }
        return element
    }

    /// Path data for a line through `points` ("M x y L x y ..."); `closed` adds "Z".
    public static func pathData(_ points: [(x: Double, y: Double)], closed: Bool = false) -> String {
        var parts: [String] = []
        for (index, point) in points.enumerated() {
            parts.append((index == 0 ? "M" : "L") + SVGFormat.number(point.x) + " " + SVGFormat.number(point.y))
        }
        if closed && !parts.isEmpty { parts.append("Z") }
        return parts.joined(separator: " ")
    }

    public static func rect(x: Double, y: Double, width: Double, height: Double,
                            fill: String = "none", stroke: String? = nil, strokeWidth: Double = 1) -> SVGElement {
        var element = SVGElement("rect")
            .setting("x", x).setting("y", y)
            .setting("width", max(0, width)).setting("height", max(0, height))
            .setting("fill", fill)
        if let stroke {
            element[attribute: "stroke"] = stroke
            element[attribute: "stroke-width"] = SVGFormat.number(strokeWidth)
        }
        return element
    }

    public static func circle(cx: Double, cy: Double, r: Double, fill: String = "#000",
                              stroke: String? = nil, strokeWidth: Double = 1) -> SVGElement {
        var element = SVGElement("circle").setting("cx", cx).setting("cy", cy).setting("r", r).setting("fill", fill)
        if let stroke {
            element[attribute: "stroke"] = stroke
            element[attribute: "stroke-width"] = SVGFormat.number(strokeWidth)
        }
        return element
    }

    /// A `<text>` whose baseline starts, is centred or ends at (`x`, `y`). `rotation`
    /// (degrees, negative = counter-clockwise) turns it about that point. `halo` paints a
    /// white outline under the glyphs so labels stay readable over lines.
    public static func text(_ content: String, x: Double, y: Double, anchor: TextAnchor = .start,
                            size: Double = 12, bold: Bool = false, fill: String = "#222",
                            rotation: Double = 0, halo: Bool = false) -> SVGElement {
        var element = SVGElement("text", text: content).setting("x", x).setting("y", y)
        if anchor != .start { element[attribute: "text-anchor"] = anchor.rawValue }
        element[attribute: "font-size"] = SVGFormat.number(size)
        if bold { element[attribute: "font-weight"] = "bold" }
        element[attribute: "fill"] = fill
        if rotation != 0 {
            element[attribute: "transform"] = "rotate(\(SVGFormat.number(rotation)) \(SVGFormat.number(x)) \(SVGFormat.number(y)))"
        }
        if halo {
            element[attribute: "stroke"] = "#fff"
            element[attribute: "stroke-width"] = "3"
            element[attribute: "stroke-linejoin"] = "round"
            element[attribute: "paint-order"] = "stroke"
        }
        return element
    }

    /// A `<g>`; `class` lets an HTML page style or select parts of a chart.
    public static func group(class className: String? = nil, transform: String? = nil,
                             _ children: [SVGElement] = []) -> SVGElement {
        var element = SVGElement("g", children: children)
        if let className { element[attribute: "class"] = className }
        if let transform { element[attribute: "transform"] = transform }
        return element
    }

    /// A `<title>`: the accessible name / hover tooltip of its parent.
    public static func title(_ text: String) -> SVGElement {
        SVGElement("title", text: text)
    }
}
