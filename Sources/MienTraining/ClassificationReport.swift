import Foundation

/// scikit-learn's `compute_class_weight("balanced")`: `n_samples / (n_classes · count_c)`
/// for class counts `counts`. A class with no sample gets weight 1 (scikit-learn refuses
/// such a class; its weight is never used, since no sample has it).
public func classWeightsBalanced(counts: [Int]) -> [Float] {
    let total = Double(counts.reduce(0, +))
    let classes = Double(counts.count)
    return counts.map { $0 > 0 ? Float(total / (classes * Double($0))) : 1 }
}

/// The metrics of one class, as scikit-learn's `classification_report` computes them.
public struct ClassMetrics: Codable, Sendable, Equatable {
    public var name: String
    public var precision: Double
    public var recall: Double
    public var f1: Double
    /// The number of samples of this class.
    public var support: Int
    /// The metrics that divided by zero and were set to 0 (scikit-learn's
    /// `zero_division="warn"`, which warns "… is ill-defined"): `precision` when the class
    /// was never predicted, `recall` when it has no sample, `f1` when both.
    public var undefined: [String]
}

/// Averages over classes (`precision`, `recall`, `f1`, and the total support).
public struct AverageMetrics: Codable, Sendable, Equatable {
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var support: Int
}

/// The metrics of a classification, as scikit-learn's `classification_report`,
/// `confusion_matrix`, `accuracy_score` and `balanced_accuracy_score` compute them (with
/// `labels=range(len(classes))`, so classes without samples are listed too). Divisions by
/// zero give 0 and are flagged in `ClassMetrics.undefined` (scikit-learn's default
/// `zero_division="warn"`).
public struct ClassificationReport: Codable, Sendable, Equatable {
    public var accuracy: Double
    /// The mean recall over the classes that have samples (scikit-learn drops the others,
    /// with a warning).
    public var balancedAccuracy: Double
    public var classes: [ClassMetrics]
    /// The unweighted mean over all listed classes.
    public var macroAverage: AverageMetrics
    /// The mean weighted by support.
    public var weightedAverage: AverageMetrics
    /// `confusionMatrix[actual][predicted]`: rows are true classes, as scikit-learn's.
    public var confusionMatrix: [[Int]]

    public init(predicted: [Int], actual: [Int], classes: [String]) {
        precondition(predicted.count == actual.count, "ClassificationReport: \(predicted.count) predictions for \(actual.count) labels")
        let k = classes.count
        precondition(k > 0, "ClassificationReport: no classes")
        var matrix = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for (p, a) in zip(predicted, actual) {
            precondition(p >= 0 && p < k && a >= 0 && a < k, "ClassificationReport: class index outside 0..<\(k)")
            matrix[a][p] += 1
        }
        confusionMatrix = matrix
        let n = actual.count
        let correct = (0..<k).reduce(0) { $0 + matrix[$1][$1] }
        accuracy = n > 0 ? Double(correct) / Double(n) : 0

        var metrics: [ClassMetrics] = []
        var recalls: [Double] = []
        for c in 0..<k {
            let tp = matrix[c][c]
            let trueSum = matrix[c].reduce(0, +)
            let predSum = (0..<k).reduce(0) { $0 + matrix[$1][c] }
            var undefined: [String] = []
            let precision = predSum > 0 ? Double(tp) / Double(predSum) : 0
            if predSum == 0 { undefined.append("precision") }
            let recall = trueSum > 0 ? Double(tp) / Double(trueSum) : 0
            if trueSum == 0 { undefined.append("recall") }
            // sklearn: (1 + β²)·tp / (β²·true + pred), with β = 1.
            let denominator = 1.0 * Double(trueSum) + Double(predSum)
            let f1 = denominator > 0 ? 2.0 * Double(tp) / denominator : 0
            if denominator == 0 { undefined.append("f1") }
            metrics.append(ClassMetrics(name: classes[c], precision: precision, recall: recall, f1: f1,
                                        support: trueSum, undefined: undefined))
            if trueSum > 0 { recalls.append(recall) }
        }
        self.classes = metrics
        balancedAccuracy = recalls.isEmpty ? 0 : recalls.reduce(0, +) / Double(recalls.count)

        let total = metrics.reduce(0) { $0 + $1.support }
        func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
        macroAverage = AverageMetrics(precision: mean(metrics.map(\.precision)), recall: mean(metrics.map(\.recall)),
                                      f1: mean(metrics.map(\.f1)), support: total)
        func weighted(_ values: [Double]) -> Double {
            guard total > 0 else { return 0 }
            return zip(values, metrics).reduce(0) { $0 + $1.0 * Double($1.1.support) } / Double(total)
        }
        weightedAverage = AverageMetrics(precision: weighted(metrics.map(\.precision)), recall: weighted(metrics.map(\.recall)),
                                         f1: weighted(metrics.map(\.f1)), support: total)
    }

    /// The report formatted like scikit-learn's `classification_report(…, digits=2)`.
    public var text: String { text(digits: 2) }

    public func text(digits: Int) -> String {
        let headingWidth = max(classes.map(\.name.count).max() ?? 0, "weighted avg".count, digits)
        func pad(_ s: String, _ width: Int) -> String {
            s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
        }
        func number(_ v: Double) -> String { pad(String(format: "%.\(digits)f", v), 9) }
        func row(_ name: String, _ p: Double, _ r: Double, _ f: Double, _ support: Int) -> String {
            pad(name, headingWidth) + " " + " " + number(p) + " " + number(r) + " " + number(f) + " " + pad(String(support), 9) + "\n"
        }
        var out = pad("", headingWidth) + " "
        for header in ["precision", "recall", "f1-score", "support"] { out += " " + pad(header, 9) }
        out += "\n\n"
        for c in classes { out += row(c.name, c.precision, c.recall, c.f1, c.support) }
        out += "\n"
        out += pad("accuracy", headingWidth) + " " + " " + pad("", 9) + " " + pad("", 9) + " " + number(accuracy)
            + " " + pad(String(macroAverage.support), 9) + "\n"
        out += row("macro avg", macroAverage.precision, macroAverage.recall, macroAverage.f1, macroAverage.support)
        out += row("weighted avg", weightedAverage.precision, weightedAverage.recall, weightedAverage.f1, weightedAverage.support)
        return out
    }
}
