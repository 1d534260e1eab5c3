import Foundation

/// A confusion-matrix heat map: rows are true classes, columns predicted ones (as
/// scikit-learn's `confusion_matrix`). Each cell shows its count and its share of the
/// row (the recall of the diagonal cells), and is coloured by that share from white to
/// `color`, so unbalanced classes read as well as large ones.
public struct HeatMap: SVGChart, Equatable {
    /// `counts[trueClass][predictedClass]`. Missing entries count as 0 and missing class
    /// names as "class i", so a ragged matrix still draws (as k × k, k the largest size).
    public var counts: [[Int]]
    public var classNames: [String]
    public var title: String
    /// The axis titles; empty for none.
    public var rowTitle: String
    public var columnTitle: String
    public var width: Double
    public var height: Double
    /// The colour of a cell holding its whole row.
    public var color: RGBColor

    public init(counts: [[Int]], classNames: [String], title: String = "Confusion matrix",
                rowTitle: String = "true", columnTitle: String = "predicted",
                width: Double = 480, height: Double = 400, color: RGBColor = Palette.heatMapDark) {
        self.counts = counts
        self.classNames = classNames
        self.title = title
        self.rowTitle = rowTitle
        self.columnTitle = columnTitle
        self.width = width
        self.height = height
        self.color = color
    }

    /// The cell's share of its row, "89.5%", or "–" for a row without samples (there is
    /// no share to show, and "NaN%" must never appear).
    public static func percentage(_ count: Int, ofRow total: Int) -> String {
        guard total > 0 else { return "–" }
        return String(format: "%.1f%%", 100 * Double(count) / Double(total))
    }

    public func svg() -> SVGDocument {
        let width = ChartParts.size(self.width, default: 480, minimum: 160)
        let height = ChartParts.size(self.height, default: 400, minimum: 140)
        var document = SVGDocument(width: width, height: height, label: title)
        document.append(ChartParts.background(width: width, height: height))
        let (titleElement, titleBottom) = ChartParts.title(title, width: width)
        if let titleElement { document.append(titleElement) }

        let k = max(classNames.count, counts.count, counts.map(\.count).max() ?? 0)
        guard k > 0 else {
            document.append(ChartParts.noData(x: width / 2, y: (titleBottom + height) / 2))
            return document
        }
        let names = (0..<k).map { $0 < classNames.count ? classNames[$0] : "class \($0)" }
        let matrix = (0..<k).map { row in
            (0..<k).map { column in row < counts.count && column < counts[row].count ? counts[row][column] : 0 }
        }
        let layout = Layout(names: names, width: width, height: height, top: titleBottom + 2,
                            hasRowTitle: !rowTitle.isEmpty, hasColumnTitle: !columnTitle.isEmpty)
        document.append(cells(matrix, names: names, layout))
        document.append(rowLabels(names, layout))
        document.append(columnLabels(names, layout, width: width))
        return document
    }

    // MARK: - Layout

    /// Square cells as large as fit; column labels rotated 45° when wider than a cell.
    private struct Layout {
        var k: Int
        var cell: Double
        var matrixLeft: Double
        var matrixTop: Double
        var rowLabelWidth: Double
        var labelSize: Double
        var rotated: Bool
        /// Height below the matrix reserved for the column labels.
        var columnLabelSpace: Double

        var matrixSize: Double { cell * Double(k) }
        var matrixBottom: Double { matrixTop + matrixSize }
        func center(_ index: Int) -> Double { Double(index) + 0.5 }

        init(names: [String], width: Double, height: Double, top: Double, hasRowTitle: Bool, hasColumnTitle: Bool) {
            let margin = ChartParts.margin
            let fullSize = 12.0
            k = names.count
            matrixTop = top
            let rowTitleSpace = hasRowTitle ? ChartParts.axisTitleSize + 8 : 0
            let columnTitleSpace = hasColumnTitle ? ChartParts.axisTitleSize + 8 : 0
            let widest = TextMetrics.maxWidth(names, size: fullSize)
            rowLabelWidth = min(widest, (width - 2 * margin) * 0.25)
            let leftFixed = margin + rowTitleSpace + rowLabelWidth + 6
            let availableWidth = width - leftFixed - margin
            let count = Double(names.count)
            func cellSize(below: Double) -> Double {
                max(4, min(availableWidth / count, (height - top - below - columnTitleSpace - margin) / count))
            }
            columnLabelSpace = 6 + fullSize + 2
            cell = cellSize(below: columnLabelSpace)
            rotated = widest > cell - 4
            if rotated {
                columnLabelSpace = min(widest * 0.71 + 14, height * 0.25)
                cell = cellSize(below: columnLabelSpace)
            }
            // Rows are a cell apart, rotated columns 0.71 cell: keep labels from touching.
            labelSize = min(fullSize, max(6, cell * 0.7))
            matrixLeft = leftFixed + max(0, availableWidth - cell * count) / 2
        }
    }

    // MARK: - Parts

    private func cells(_ matrix: [[Int]], names: [String], _ layout: Layout) -> SVGElement {
        let cell = layout.cell
        // One font size for all cells, from the widest text any cell shows.
        let countWidth = TextMetrics.maxWidth(matrix.flatMap { $0 }.map(String.init), size: 1, bold: true)
        let percentWidth = TextMetrics.width("100.0%", size: 0.85)
        let size = max(3, min(14, (cell - 6) / max(countWidth, percentWidth), cell / 2.6))
        let emptyFill = RGBColor(red: 0xF4, green: 0xF4, blue: 0xF4)

        var children: [SVGElement] = []
        for (row, counts) in matrix.enumerated() {
            let total = counts.reduce(0, +)
            for (column, count) in counts.enumerated() {
                let fraction = total > 0 ? Double(count) / Double(total) : 0
                let fill = total > 0 ? RGBColor.white.mixed(with: color, fraction) : emptyFill
                // Below ~0.18 luminance white text has more contrast than black.
                let ink = fill.luminance < 0.18 ? "#fff" : "#111"
                let percent = HeatMap.percentage(count, ofRow: total)
                let x = layout.matrixLeft + Double(column) * cell
                let y = layout.matrixTop + Double(row) * cell
                let share = total > 0 ? "\(count) of \(total) (\(percent))" : "\(count) (no samples of this class)"
                children.append(SVGElement.group(class: "cell", [
                    .rect(x: x, y: y, width: cell, height: cell, fill: fill.hex, stroke: "#fff"),
                    .text(String(count), x: x + cell / 2, y: y + cell / 2 - 0.1 * size, anchor: .middle,
                          size: size, bold: true, fill: ink),
                    .text(percent, x: x + cell / 2, y: y + cell / 2 + 0.82 * size, anchor: .middle,
                          size: 0.85 * size, fill: ink),
                ]).tooltip("\(rowTitle.isEmpty ? "true" : rowTitle) \(names[row]), \(columnTitle.isEmpty ? "predicted" : columnTitle) \(names[column]): \(share)"))
            }
        }
        children.append(.rect(x: layout.matrixLeft, y: layout.matrixTop, width: layout.matrixSize,
                              height: layout.matrixSize, stroke: "#BBB"))
        return .group(class: "cells", children)
    }

    /// Class names right-aligned left of their rows, and the rotated row title.
    private func rowLabels(_ names: [String], _ layout: Layout) -> SVGElement {
        let size = layout.labelSize
        var children = names.enumerated().map { row, name in
            ChartParts.label(name, maxWidth: layout.rowLabelWidth, x: layout.matrixLeft - 6,
                             y: layout.matrixTop + layout.center(row) * layout.cell + 0.35 * size,
                             anchor: .end, size: size, middle: true)
        }
        if !rowTitle.isEmpty {
            let shownWidth = min(layout.rowLabelWidth, TextMetrics.maxWidth(names, size: size))
            let center = layout.matrixTop + layout.matrixSize / 2
            let room = layout.matrixSize + 20
            children.append(ChartParts.label(rowTitle, maxWidth: room, x: layout.matrixLeft - 6 - shownWidth - 9,
                                             y: center, anchor: .middle, size: ChartParts.axisTitleSize,
                                             bold: true, rotation: -90))
        }
        return .group(class: "rows", children)
    }

    /// Class names under their columns (rotated 45° and shortened if long; the full name
    /// is the tooltip), and the column title below them.
    private func columnLabels(_ names: [String], _ layout: Layout, width: Double) -> SVGElement {
        let size = layout.labelSize
        let margin = ChartParts.margin
        var children = names.enumerated().map { column, name in
            let x = layout.matrixLeft + layout.center(column) * layout.cell
            if layout.rotated {
                // The text runs down-left from its end under the column: it must stay
                // above the column title and right of the picture's left edge.
                let maxLength = max(0, min(layout.columnLabelSpace - 12, x - margin - 4) / 0.71)
                return ChartParts.label(name, maxWidth: maxLength, x: x + 3, y: layout.matrixBottom + 9,
                                        anchor: .end, size: size, rotation: -45, middle: true)
            }
            return ChartParts.label(name, maxWidth: layout.cell - 2, x: x, y: layout.matrixBottom + 6 + 0.75 * size,
                                    anchor: .middle, size: size, middle: true)
        }
        if !columnTitle.isEmpty {
            let center = layout.matrixLeft + layout.matrixSize / 2
            let room = 2 * min(center - margin, width - margin - center)
            children.append(ChartParts.label(columnTitle, maxWidth: room, x: center,
                                             y: layout.matrixBottom + layout.columnLabelSpace + 2 + 0.75 * ChartParts.axisTitleSize,
                                             anchor: .middle, size: ChartParts.axisTitleSize, bold: true))
        }
        return .group(class: "columns", children)
    }
}
