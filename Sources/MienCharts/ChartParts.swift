import Foundation

/// A chart that draws itself as SVG; the report inlines `svg().render()` and saves
/// `svg().write(to:)` for slides.
public protocol SVGChart: Sendable {
    func svg() -> SVGDocument
}

/// Pieces and sizes shared by the charts, so they look like one family.
enum ChartParts {
    static let margin = 8.0
    static let titleSize = 15.0
    static let axisTitleSize = 12.0
    static let tickLabelSize = 11.0
    static let legendSize = 12.0
    static let noteSize = 13.0

    /// A usable size: non-finite sizes fall back to the default, tiny ones grow to a
    /// minimum that still lays out, absurd ones shrink to 20 000 px.
    static func size(_ value: Double, default fallback: Double, minimum: Double) -> Double {
        value.isFinite ? min(max(value, minimum), 20_000) : fallback
    }

    /// A white background: transparent charts vanish on dark slides.
    static func background(width: Double, height: Double) -> SVGElement {
        .rect(x: 0, y: 0, width: width, height: height, fill: "#fff")
    }

    /// The bold, centred title (shortened with a tooltip if wider than the chart), and the
    /// y below which the chart may draw.
    static func title(_ text: String, width: Double) -> (element: SVGElement?, bottom: Double) {
        guard !text.isEmpty else { return (nil, margin) }
        let (shown, truncated) = TextMetrics.truncate(text, toWidth: width - 2 * margin, size: titleSize, bold: true)
        var element = SVGElement.text(shown, x: width / 2, y: margin + titleSize * 0.85, anchor: .middle,
                                      size: titleSize, bold: true, fill: "#111")
        if truncated { element = element.tooltip(text) }
        return (.group(class: "title", [element]), margin + titleSize + 8)
    }

    /// A text that fits `maxWidth`, with the full text as a tooltip when shortened.
    static func label(_ text: String, maxWidth: Double, x: Double, y: Double, anchor: TextAnchor = .start,
                      size: Double, bold: Bool = false, fill: String = "#222",
                      rotation: Double = 0, halo: Bool = false, middle: Bool = false) -> SVGElement {
        let (shown, truncated) = TextMetrics.truncate(text, toWidth: max(0, maxWidth), size: size, bold: bold, middle: middle)
        let element = SVGElement.text(shown, x: x, y: y, anchor: anchor, size: size, bold: bold,
                                      fill: fill, rotation: rotation, halo: halo)
        return truncated ? element.tooltip(text) : element
    }

    /// The note shown where a chart has nothing to draw.
    static func noData(x: Double, y: Double, text: String = "no data") -> SVGElement {
        .group(class: "no-data", [.text(text, x: x, y: y, anchor: .middle, size: noteSize, fill: Palette.secondaryText)])
    }

    /// A data value for tooltips: four significant digits, never "nan".
    static func value(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        if value == value.rounded() && abs(value) < 1e9 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }
}
