/// The report's line charts with their conventions filled in, so every report draws
/// learning curves, ROC and precision–recall curves the same way.
extension LineChart {
    /// A learning curve: one metric per epoch for training (solid) and validation
    /// (dashed), x from epoch 1, with the best epoch marked by a vertical line (and a dot on
    /// the validation value), and the first epoch of a second training stage by a line
    /// before it. Pass `yRange: 0...1` for accuracies.
    public static func learningCurve(title: String, metric: String, training: [Double], validation: [Double]? = nil,
                                     bestEpoch: Int? = nil, secondStage: Int? = nil, yRange: ClosedRange<Double>? = nil,
                                     width: Double = 480, height: Double = 320) -> LineChart {
        var series = [LineSeries("training", perEpoch: training)]
        if let validation { series.append(LineSeries("validation", perEpoch: validation, dashed: true)) }
        var marks: [ChartMark] = []
        if let secondStage { marks.append(.vertical(at: Double(secondStage) - 0.5, y: nil, label: "stage 2")) }
        if let bestEpoch {
            let index = bestEpoch - 1
            let value = validation.flatMap { index >= 0 && index < $0.count ? $0[index] : nil }
            marks.append(.vertical(at: Double(bestEpoch), y: value, label: "best epoch \(bestEpoch)"))
        }
        return LineChart(title: title, xTitle: "epoch", yTitle: metric, series: series, width: width, height: height,
                         yRange: yRange, integerX: true, marks: marks)
    }

    /// A ROC curve on the unit square with the chance diagonal, the AUC in the corner, and
    /// optionally the classifier's operating point, e.g.
    /// `.point(x: fpr, y: tpr, label: "threshold 0.5")`.
    public static func roc(falsePositiveRates: [Double], truePositiveRates: [Double], auc: Double? = nil,
                           operatingPoint: ChartMark? = nil, name: String = "model", title: String = "ROC curve",
                           width: Double = 400, height: Double = 380) -> LineChart {
        LineChart(title: title, xTitle: "false positive rate", yTitle: "true positive rate",
                  series: [LineSeries(name, x: falsePositiveRates, y: truePositiveRates)],
                  width: width, height: height, xRange: 0...1, yRange: 0...1,
                  diagonal: "chance", equalAspect: true, marks: operatingPoint.map { [$0] } ?? [],
                  annotations: auc.flatMap { $0.isFinite ? ["AUC = \(ChartPresets.decimal($0))"] : nil } ?? [],
                  annotationCorner: .bottomRight)
    }

    /// A precision–recall curve on the unit square, with the precision of a classifier
    /// that guesses (the positive rate) as a dashed reference line and the average
    /// precision in the corner.
    public static func precisionRecall(recall: [Double], precision: [Double], averagePrecision: Double? = nil,
                                       positiveRate: Double? = nil, operatingPoint: ChartMark? = nil,
                                       name: String = "model", title: String = "Precision–recall curve",
                                       width: Double = 400, height: Double = 380) -> LineChart {
        var series = [LineSeries(name, x: recall, y: precision)]
        if let positiveRate, positiveRate.isFinite {
            series.append(LineSeries("chance", points: [ChartPoint(x: 0, y: positiveRate), ChartPoint(x: 1, y: positiveRate)],
                                     color: RGBColor(hex: Palette.reference), dashed: true, markers: .never))
        }
        return LineChart(title: title, xTitle: "recall", yTitle: "precision", series: series,
                         width: width, height: height, xRange: 0...1, yRange: 0...1,
                         equalAspect: true, marks: operatingPoint.map { [$0] } ?? [],
                         annotations: averagePrecision.flatMap { $0.isFinite ? ["AP = \(ChartPresets.decimal($0))"] : nil } ?? [],
                         annotationCorner: .bottomLeft)
    }
}

enum ChartPresets {
    /// Three decimals, as scikit-learn reports print them.
    static func decimal(_ value: Double) -> String {
        Ticks.label(value, step: 0.001)
    }
}
