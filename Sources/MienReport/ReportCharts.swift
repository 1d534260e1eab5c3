import MienCharts
import MienTraining

/// The report's charts, each with the file name it is also saved under for slides.
struct ReportCharts {
    var named: [(file: String, chart: any SVGChart)] = []

    init(_ data: ReportData) {
        if let history = data.history, !history.epochs.isEmpty {
            let epochs = history.epochs
            let validated = epochs.allSatisfy { $0.valLoss != nil }
            let secondStage = epochs.first { $0.stage == 2 }?.epoch
            named.append(("loss.svg", LineChart.learningCurve(
                title: "Loss", metric: "loss", training: epochs.map { Double($0.loss) },
                validation: validated ? epochs.map { Double($0.valLoss!) } : nil, bestEpoch: history.bestEpoch,
                secondStage: secondStage)))
            named.append(("accuracy.svg", LineChart.learningCurve(
                title: "Accuracy", metric: "accuracy", training: epochs.map { Double($0.accuracy) },
                validation: validated ? epochs.map { Double($0.valAccuracy ?? .nan) } : nil,
                bestEpoch: history.bestEpoch, secondStage: secondStage, yRange: 0...1)))
        }
        let report = data.classificationReport
        named.append(("confusion_matrix.svg", HeatMap(counts: report.confusionMatrix,
                                                      classNames: report.classes.map(\.name))))
        if let curves = data.curves {
            let point = curves.operatingPoint
            let label = "threshold \(ChartText.number(point.threshold))"
            if let fpr = curves.roc.falsePositiveRates, let tpr = curves.roc.truePositiveRates {
                named.append(("roc.svg", LineChart.roc(
                    falsePositiveRates: fpr, truePositiveRates: tpr, auc: curves.roc.auc,
                    operatingPoint: zip(point.falsePositiveRate, point.truePositiveRate).map {
                        ChartMark(x: $0, y: $1, label: label)
                    })))
            }
            if curves.precisionRecall.isDefined {
                let total = Double(curves.positives + curves.negatives)
                named.append(("precision_recall.svg", LineChart.precisionRecall(
                    recall: curves.precisionRecall.recall, precision: curves.precisionRecall.precision,
                    averagePrecision: curves.precisionRecall.averagePrecision,
                    positiveRate: total > 0 ? Double(curves.positives) / total : nil,
                    operatingPoint: zip(point.truePositiveRate, point.precision).map {
                        ChartMark(x: $0, y: $1, label: label)
                    })))
            }
        }
    }

    func chart(_ file: String) -> (any SVGChart)? {
        named.first { $0.file == file }?.chart
    }
}

/// Both optionals, or nil.
private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}

enum ChartText {
    /// A threshold or score as people write it: 0.5, 0.35, 0.125.
    static func number(_ value: Double) -> String {
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text += "0" }
        return text
    }
}
