/// Drawing a `LineChart`: layout (title, legend, plot area sized around the tick
/// labels), then grid, series, axes, marks and annotations.
extension LineChart {
    public func svg() -> SVGDocument {
        let width = ChartParts.size(self.width, default: 480, minimum: 160)
        let height = ChartParts.size(self.height, default: 320, minimum: 120)
        var document = SVGDocument(width: width, height: height, label: title)
        document.append(ChartParts.background(width: width, height: height))

        let (titleElement, titleBottom) = ChartParts.title(title, width: width)
        if let titleElement { document.append(titleElement) }

        let drawn = series.map(\.finitePoints)
        let (legendElement, legendBottom) = Legend(entries: legendEntries(drawn)).draw(top: titleBottom, width: width, maxHeight: height * 0.3)
        if let legendElement { document.append(legendElement) }

        let plot = layout(width: width, height: height, top: legendBottom, drawn: drawn)
        document.append(grid(plot))
        document.append(clipped(plot, [diagonalLine(plot)].compactMap { $0 } + seriesElements(plot, drawn)))
        document.append(xAxis(plot, width: width))
        document.append(yAxis(plot, height: height))
        let marks = markElements(plot)
        if !marks.isEmpty { document.append(.group(class: "marks", marks)) }
        if let box = annotationBox(plot) { document.append(box) }
        if drawn.allSatisfy(\.isEmpty) {
            document.append(ChartParts.noData(x: plot.left + plot.width / 2, y: plot.top + plot.height / 2 + 4))
        }
        return document
    }

    // MARK: - Layout

    private static let tickLength = 4.0
    private static let dash = "6 4"

    private func legendEntries(_ drawn: [[ChartPoint]]) -> [Legend.Entry] {
        var entries = series.enumerated().map { index, line in
            Legend.Entry(name: drawn[index].isEmpty ? line.name + " (no data)" : line.name,
                         color: color(index), dashed: line.dashed,
                         marker: line.showsMarkers(finiteCount: drawn[index].count), hollowMarker: line.dashed)
        }
        if let diagonal, !diagonal.isEmpty {
            entries.append(Legend.Entry(name: diagonal, color: Palette.reference, dashed: true, marker: false, hollowMarker: false))
        }
        return entries
    }

    private func color(_ index: Int) -> String {
        (series[index].color ?? Palette.series(index)).hex
    }

    /// The plot area: below `top`, with room on the left for the y tick labels (their
    /// width known once the y ticks are) and below for the x tick labels and titles.
    private func layout(width: Double, height: Double, top: Double, drawn: [[ChartPoint]]) -> Plot {
        let margin = ChartParts.margin
        let xLabelSpace = LineChart.tickLength + 3 + ChartParts.tickLabelSize + 3
        let xTitleSpace = xTitle.isEmpty ? 0 : ChartParts.axisTitleSize + 6
        let plotTop = top + 6   // half a tick label above the top tick
        let plotBottom = max(height - margin - xTitleSpace - xLabelSpace, plotTop + 20)

        let xs = drawn.flatMap { $0.map(\.x) } + marks.map(\.x)
        let ys = drawn.flatMap { $0.map(\.y) } + marks.compactMap(\.y)
        let yIntervals = min(8, max(1, Int((plotBottom - plotTop) / 40)))
        let yTicks = yRange.map { Ticks(fixed: $0, maxIntervals: yIntervals) } ?? Ticks(covering: ys, maxIntervals: yIntervals)

        let yTitleSpace = yTitle.isEmpty ? 0 : ChartParts.axisTitleSize + 7
        var left = margin + yTitleSpace + TextMetrics.maxWidth(yTicks.labels, size: ChartParts.tickLabelSize) + LineChart.tickLength + 3
        var right = width - margin - 12
        var xTicks = fitXTicks(xs, plotWidth: right - left)
        // The first and last x labels are centred on the plot's edges: keep them inside.
        let halfFirst = TextMetrics.width(xTicks.labels.first ?? "", size: ChartParts.tickLabelSize) / 2
        let halfLast = TextMetrics.width(xTicks.labels.last ?? "", size: ChartParts.tickLabelSize) / 2
        left = max(left, margin + halfFirst)
        right = min(width - margin, width - halfLast - 2)
        let plotWidth = max(right - left, 20)
        xTicks = fitXTicks(xs, plotWidth: plotWidth)

        var plot = Plot(left: left, top: plotTop, width: plotWidth, height: plotBottom - plotTop, x: xTicks, y: yTicks)
        if equalAspect {
            plot.equalizeAspect()
            // Fewer x ticks may fit the narrower plot; take them if the range stays the same.
            let refit = fitXTicks(xs, plotWidth: plot.width)
            if refit.lower == plot.x.lower && refit.upper == plot.x.upper { plot.x = refit }
        }
        return plot
    }

    /// As many x ticks as fit without their labels touching.
    private func fitXTicks(_ xs: [Double], plotWidth: Double) -> Ticks {
        var intervals = min(10, max(1, Int(plotWidth / 50)))
        while true {
            let ticks = xRange.map { Ticks(fixed: $0, maxIntervals: intervals, integers: integerX) }
                ?? Ticks(covering: xs, maxIntervals: intervals, integers: integerX)
            let span = ticks.upper - ticks.lower
            let spacing = span > 0 ? plotWidth * ticks.step / span : plotWidth
            let widest = TextMetrics.maxWidth(ticks.labels, size: ChartParts.tickLabelSize)
            if intervals == 1 || widest + 8 <= spacing { return ticks }
            intervals -= 1
        }
    }

    // MARK: - Parts

    private func grid(_ plot: Plot) -> SVGElement {
        let horizontal = plot.y.values.map { value in
            SVGElement.line(x1: plot.left, y1: plot.py(value), x2: plot.right, y2: plot.py(value), stroke: Palette.grid)
        }
        let vertical = plot.x.values.map { value in
            SVGElement.line(x1: plot.px(value), y1: plot.top, x2: plot.px(value), y2: plot.bottom, stroke: Palette.grid)
        }
        return .group(class: "grid", horizontal + vertical)
    }

    /// Data drawn inside a nested `<svg>` viewport over the plot area (plus room for
    /// markers on its edges): it clips lines that leave a fixed axis range without
    /// needing a `clipPath` id, which would clash between charts inlined in one page.
    private func clipped(_ plot: Plot, _ children: [SVGElement]) -> SVGElement {
        let pad = 6.0
        let (x, y, w, h) = (plot.left - pad, plot.top - pad, plot.width + 2 * pad, plot.height + 2 * pad)
        let viewBox = [x, y, w, h].map(SVGFormat.number).joined(separator: " ")
        return SVGElement("svg", ["class": "plot", "viewBox": viewBox, "overflow": "hidden"], children: children)
            .setting("x", x).setting("y", y).setting("width", w).setting("height", h)
    }

    private func diagonalLine(_ plot: Plot) -> SVGElement? {
        guard diagonal != nil else { return nil }
        let low = max(plot.x.lower, plot.y.lower)
        let high = min(plot.x.upper, plot.y.upper)
        guard high > low else { return nil }
        return SVGElement.line(x1: plot.px(low), y1: plot.py(low), x2: plot.px(high), y2: plot.py(high),
                               stroke: Palette.reference, strokeWidth: 1.2, dash: LineChart.dash)
            .setting("class", "diagonal")
    }

    /// One group per series: a tooltip with its name, a polyline through its finite
    /// points (if there are two or more) and its markers.
    private func seriesElements(_ plot: Plot, _ drawn: [[ChartPoint]]) -> [SVGElement] {
        series.enumerated().map { index, line in
            let points = drawn[index]
            let color = color(index)
            let pixels = points.map { (x: plot.px($0.x), y: plot.py($0.y)) }
            var children: [SVGElement] = [.title(line.name)]
            if pixels.count >= 2 {
                children.append(.polyline(pixels, stroke: color, strokeWidth: 2, dash: line.dashed ? LineChart.dash : nil))
            }
            if line.showsMarkers(finiteCount: points.count) {
                let radius = points.count == 1 ? 4.5 : 3
                let markers = zip(points, pixels).map { point, pixel in
                    SVGElement.circle(cx: pixel.x, cy: pixel.y, r: radius,
                                      fill: line.dashed ? "#fff" : color, stroke: line.dashed ? color : "#fff",
                                      strokeWidth: line.dashed ? 1.5 : 1)
                        .tooltip("\(line.name): \(xTitle.isEmpty ? "x" : xTitle) \(ChartParts.value(point.x)), \(yTitle.isEmpty ? "y" : yTitle) \(ChartParts.value(point.y))")
                }
                children.append(.group(class: "markers", markers))
            }
            return .group(class: "series", children)
        }
    }

    private func xAxis(_ plot: Plot, width: Double) -> SVGElement {
        let size = ChartParts.tickLabelSize
        var children: [SVGElement] = [.line(x1: plot.left, y1: plot.bottom, x2: plot.right, y2: plot.bottom, stroke: Palette.axis)]
        for (value, label) in zip(plot.x.values, plot.x.labels) {
            let x = plot.px(value)
            children.append(.line(x1: x, y1: plot.bottom, x2: x, y2: plot.bottom + LineChart.tickLength, stroke: Palette.axis))
            children.append(.text(label, x: x, y: plot.bottom + LineChart.tickLength + 3 + size * 0.75,
                                  anchor: .middle, size: size, fill: "#333"))
        }
        if !xTitle.isEmpty {
            let center = plot.left + plot.width / 2
            let room = 2 * min(center - ChartParts.margin, width - ChartParts.margin - center)
            children.append(ChartParts.label(xTitle, maxWidth: room, x: center,
                                             y: plot.bottom + LineChart.tickLength + size + 12 + ChartParts.axisTitleSize * 0.75,
                                             anchor: .middle, size: ChartParts.axisTitleSize))
        }
        return .group(class: "axis x", children)
    }

    private func yAxis(_ plot: Plot, height: Double) -> SVGElement {
        let size = ChartParts.tickLabelSize
        var children: [SVGElement] = [.line(x1: plot.left, y1: plot.top, x2: plot.left, y2: plot.bottom, stroke: Palette.axis)]
        for (value, label) in zip(plot.y.values, plot.y.labels) {
            let y = plot.py(value)
            children.append(.line(x1: plot.left - LineChart.tickLength, y1: y, x2: plot.left, y2: y, stroke: Palette.axis))
            children.append(.text(label, x: plot.left - LineChart.tickLength - 3, y: y + size * 0.35,
                                  anchor: .end, size: size, fill: "#333"))
        }
        if !yTitle.isEmpty {
            let labelWidth = TextMetrics.maxWidth(plot.y.labels, size: size)
            let x = plot.left - LineChart.tickLength - 3 - labelWidth - 5
            let center = plot.top + plot.height / 2
            let room = 2 * min(center - ChartParts.margin, height - ChartParts.margin - center)
            children.append(ChartParts.label(yTitle, maxWidth: room, x: x, y: center, anchor: .middle,
                                             size: ChartParts.axisTitleSize, rotation: -90))
        }
        return .group(class: "axis y", children)
    }

    /// Each visible mark: its dashed vertical line, its dot and its label (at the top of
    /// the line, or beside the dot), flipped left when it would leave the plot.
    private func markElements(_ plot: Plot) -> [SVGElement] {
        let size = ChartParts.tickLabelSize
        var elements: [SVGElement] = []
        for mark in marks where plot.containsX(mark.x) {
            let x = plot.px(mark.x)
            let dotY = mark.y.flatMap { plot.containsY($0) ? plot.py($0) : nil }
            guard mark.verticalLine || dotY != nil else { continue }
            var children: [SVGElement] = []
            if mark.verticalLine {
                children.append(.line(x1: x, y1: plot.top, x2: x, y2: plot.bottom, stroke: "#555", strokeWidth: 1.2, dash: "4 3"))
            }
            if let dotY {
                children.append(.circle(cx: x, cy: dotY, r: 4.5, fill: "#222", stroke: "#fff", strokeWidth: 1.5))
            }
            if !mark.label.isEmpty {
                let labelWidth = TextMetrics.width(mark.label, size: size)
                let besideDot = !mark.verticalLine ? dotY : nil
                let offset = besideDot == nil ? 4.0 : 8.0
                var y = plot.top + 12
                if let dotY = besideDot {
                    y = dotY + 15 <= plot.bottom - 3 ? dotY + 15 : dotY - 8
                }
                let (labelX, anchor): (Double, TextAnchor) =
                    x + offset + labelWidth <= plot.right ? (x + offset, .start)
                    : x - offset - labelWidth >= plot.left ? (x - offset, .end)
                    : (plot.left + 2, .start)
                children.append(ChartParts.label(mark.label, maxWidth: plot.width - 4, x: labelX, y: y,
                                                 anchor: anchor, size: size, fill: "#111", halo: true))
            }
            elements.append(.group(class: "mark", children))
        }
        return elements
    }

    private func annotationBox(_ plot: Plot) -> SVGElement? {
        guard !annotations.isEmpty else { return nil }
        let size = 12.0
        let lineHeight = 16.0
        let textWidth = min(TextMetrics.maxWidth(annotations, size: size), plot.width - 24)
        let boxWidth = textWidth + 12
        let boxHeight = lineHeight * Double(annotations.count) + 6
        let left = annotationCorner == .topLeft || annotationCorner == .bottomLeft
        let top = annotationCorner == .topLeft || annotationCorner == .topRight
        let boxX = left ? plot.left + 6 : plot.right - 6 - boxWidth
        let boxY = top ? plot.top + 6 : plot.bottom - 6 - boxHeight
        var children: [SVGElement] = [
            SVGElement.rect(x: boxX, y: boxY, width: boxWidth, height: boxHeight, fill: "#fff", stroke: "#CCC")
                .setting("fill-opacity", "0.85"),
        ]
        for (index, line) in annotations.enumerated() {
            children.append(ChartParts.label(line, maxWidth: textWidth, x: boxX + 6,
                                             y: boxY + 3 + lineHeight * Double(index) + 12, size: size, fill: "#111"))
        }
        return .group(class: "annotations", children)
    }
}

/// The plot area in px and its axes: maps data to pixel coordinates.
private struct Plot {
    var left: Double
    var top: Double
    var width: Double
    var height: Double
    var x: Ticks
    var y: Ticks

    var right: Double { left + width }
    var bottom: Double { top + height }

    func px(_ value: Double) -> Double {
        Plot.scaled(value, x.lower, x.upper, from: left, to: right)
    }

    func py(_ value: Double) -> Double {
        Plot.scaled(value, y.lower, y.upper, from: bottom, to: top)
    }

    func containsX(_ value: Double) -> Bool { Plot.contains(value, x) }
    func containsY(_ value: Double) -> Bool { Plot.contains(value, y) }

    /// Shrinks the longer side so one data unit spans as many px on both axes, centring
    /// the plot in the space it had.
    mutating func equalizeAspect() {
        let xSpan = x.upper - x.lower
        let ySpan = y.upper - y.lower
        guard xSpan > 0, ySpan > 0, xSpan.isFinite, ySpan.isFinite else { return }
        let xScale = width / xSpan
        let yScale = height / ySpan
        if xScale > yScale {
            let newWidth = yScale * xSpan
            left += (width - newWidth) / 2
            width = newWidth
        } else {
            let newHeight = xScale * ySpan
            top += (height - newHeight) / 2
            height = newHeight
        }
    }

    /// Linear map of `value` from `low...high` to `from...to`, clamped to ±100 000 px so
    /// a far-off point (clipped anyway) cannot produce absurd coordinates.
    private static func scaled(_ value: Double, _ low: Double, _ high: Double, from: Double, to: Double) -> Double {
        let span = high - low
        guard span > 0, span.isFinite, value.isFinite else { return from }
        let pixel = from + (value - low) / span * (to - from)
        return pixel.isFinite ? min(1e5, max(-1e5, pixel)) : from
    }

    private static func contains(_ value: Double, _ ticks: Ticks) -> Bool {
        let slack = (ticks.upper - ticks.lower) * 1e-9
        return value.isFinite && value >= ticks.lower - slack && value <= ticks.upper + slack
    }
}
