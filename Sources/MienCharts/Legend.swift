/// The legend of a line chart: one sample line (with its dash and marker) and name per
/// series, in rows above the plot. Above rather than inside the plot so it never hides
/// data, and rows wrap so long names never leave the picture.
struct Legend {
    struct Entry {
        var name: String
        var color: String
        var dashed: Bool
        var marker: Bool
        /// Hollow markers tell a dashed series apart without relying on colour.
        var hollowMarker: Bool
    }

    static let sampleLength = 22.0
    static let rowHeight = 18.0
    static let gap = 5.0
    static let spacing = 16.0

    var entries: [Entry]

    /// The legend laid out in `width`, starting at `top`, and the y below it. Entries
    /// flow in rows; if that takes more than `maxHeight`, they go into a grid of equal
    /// columns instead, with names shortened to the column width (full name as tooltip).
    func draw(top: Double, width: Double, maxHeight: Double) -> (element: SVGElement?, bottom: Double) {
        guard !entries.isEmpty else { return (nil, top) }
        let size = ChartParts.legendSize
        let available = width - 2 * ChartParts.margin
        let sample = Legend.sampleLength + Legend.gap
        let maxRows = max(1, Int(maxHeight / Legend.rowHeight))
        var rows = flowRows(available: available)
        var maxText = max(10, available - sample)
        if rows.count > maxRows {
            let columns = (entries.count + maxRows - 1) / maxRows
            let columnWidth = (available + Legend.spacing) / Double(columns)
            maxText = max(10, columnWidth - Legend.spacing - sample)
            rows = stride(from: 0, to: entries.count, by: columns).map { start in
                entries[start..<min(start + columns, entries.count)].map { ($0, maxText) }
            }
        }

        var children: [SVGElement] = []
        for (rowIndex, row) in rows.enumerated() {
            let total = row.reduce(0) { $0 + sample + $1.textWidth } + Legend.spacing * Double(row.count - 1)
            var x = (width - total) / 2   // centred
            let lineY = top + Double(rowIndex) * Legend.rowHeight + Legend.rowHeight / 2
            for (entry, textWidth) in row {
                var item: [SVGElement] = [
                    .line(x1: x, y1: lineY, x2: x + Legend.sampleLength, y2: lineY, stroke: entry.color,
                          strokeWidth: 2, dash: entry.dashed ? "6 4" : nil),
                ]
                if entry.marker {
                    item.append(.circle(cx: x + Legend.sampleLength / 2, cy: lineY, r: 3,
                                        fill: entry.hollowMarker ? "#fff" : entry.color,
                                        stroke: entry.hollowMarker ? entry.color : "#fff",
                                        strokeWidth: entry.hollowMarker ? 1.5 : 1))
                }
                item.append(ChartParts.label(entry.name, maxWidth: maxText, x: x + sample, y: lineY + size * 0.35,
                                             size: size))
                children.append(.group(class: "legend-entry", item))
                x += sample + textWidth + Legend.spacing
            }
        }
        return (.group(class: "legend", children), top + Double(rows.count) * Legend.rowHeight + 4)
    }

    /// Entries filled greedily into rows of `available` width, with their text widths.
    private func flowRows(available: Double) -> [[(entry: Entry, textWidth: Double)]] {
        let sample = Legend.sampleLength + Legend.gap
        let maxText = max(10, available - sample)
        var rows: [[(entry: Entry, textWidth: Double)]] = [[]]
        var rowWidth = 0.0
        for entry in entries {
            let textWidth = min(TextMetrics.width(entry.name, size: ChartParts.legendSize), maxText)
            let entryWidth = sample + textWidth
            let needed = rows[rows.count - 1].isEmpty ? entryWidth : rowWidth + Legend.spacing + entryWidth
            if needed > available && !rows[rows.count - 1].isEmpty {
                rows.append([(entry, textWidth)])
                rowWidth = entryWidth
            } else {
                rows[rows.count - 1].append((entry, textWidth))
                rowWidth = needed
            }
        }
        return rows
    }
}
