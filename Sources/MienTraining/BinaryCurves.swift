/// scikit-learn's `roc_curve` (with its default `drop_intermediate=True`) and
/// `roc_auc_score` of one binary classification.
///
/// Element `i` of the rates is the rate of the predictions `score >= thresholds[i]`. The
/// first point is (0, 0) at threshold `+infinity` (scikit-learn ≥ 1.3 returns `inf` there);
/// the thresholds then decrease through the distinct scores, keeping only the points where
/// the curve bends (collinear points are dropped).
///
/// JSON: JSON has no infinity, so every non-finite threshold (only the first can be one) is
/// encoded as `null`, and `null` decodes as `+infinity`.
public struct ROCCurve: Codable, Sendable, Equatable {
    /// scikit-learn's `fpr`, increasing from 0 to 1; nil when there is no negative sample
    /// (scikit-learn returns NaNs and warns "No negative samples in y_true").
    public var falsePositiveRates: [Double]?
    /// scikit-learn's `tpr` (recall), increasing from 0 to 1; nil when there is no positive
    /// sample (scikit-learn returns NaNs and warns "No positive samples in y_true").
    public var truePositiveRates: [Double]?
    /// scikit-learn's `thresholds`, decreasing: `+infinity`, then scores.
    public var thresholds: [Double]
    /// `roc_auc_score`: the trapezoidal area under the curve, summed as numpy sums. Nil when
    /// `y_true` holds one class only (scikit-learn warns and returns NaN).
    public var auc: Double?

    /// False when `y_true` holds one class only: one of the rates, and the area, are undefined.
    public var isDefined: Bool { falsePositiveRates != nil && truePositiveRates != nil }

    public init(falsePositiveRates: [Double]?, truePositiveRates: [Double]?, thresholds: [Double], auc: Double?) {
        self.falsePositiveRates = falsePositiveRates
        self.truePositiveRates = truePositiveRates
        self.thresholds = thresholds
        self.auc = auc
    }

    enum CodingKeys: String, CodingKey { case falsePositiveRates, truePositiveRates, thresholds, auc }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        falsePositiveRates = try container.decodeIfPresent([Double].self, forKey: .falsePositiveRates)
        truePositiveRates = try container.decodeIfPresent([Double].self, forKey: .truePositiveRates)
        thresholds = try container.decode([Double?].self, forKey: .thresholds).map { $0 ?? .infinity }
        auc = try container.decodeIfPresent(Double.self, forKey: .auc)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(falsePositiveRates, forKey: .falsePositiveRates)
        try container.encodeIfPresent(truePositiveRates, forKey: .truePositiveRates)
        try container.encode(thresholds.map { $0.isFinite ? $0 : nil }, forKey: .thresholds)
        try container.encodeIfPresent(auc, forKey: .auc)
    }
}

/// scikit-learn's `precision_recall_curve` (its default `drop_intermediate=False`) and
/// `average_precision_score` of one binary classification.
///
/// Element `i` is the precision and recall of the predictions `score >= thresholds[i]`, for
/// every distinct score in increasing order; then a last point, precision 1 and recall 0,
/// that has no threshold (so `thresholds` is one shorter than `precision` and `recall`).
public struct PrecisionRecallCurve: Codable, Sendable, Equatable {
    /// `tp / (tp + fp)`, then 1.
    public var precision: [Double]
    /// `tp / positives`, decreasing, then 0. With no positive sample, scikit-learn sets every
    /// recall to 1 (and warns); so does this (then `averagePrecision` is nil).
    public var recall: [Double]
    /// The distinct scores, increasing.
    public var thresholds: [Double]
    /// `average_precision_score`: `Σ (R_i − R_{i+1}) · P_i`, summed as numpy sums. Nil when
    /// there is no positive sample (scikit-learn warns and returns 0).
    public var averagePrecision: Double?

    /// False when there is no positive sample: recall, and the average precision, are undefined.
    public var isDefined: Bool { averagePrecision != nil }

    public init(precision: [Double], recall: [Double], thresholds: [Double], averagePrecision: Double?) {
        self.precision = precision
        self.recall = recall
        self.thresholds = thresholds
        self.averagePrecision = averagePrecision
    }
}

/// The confusion counts and rates of the predictions `score >= threshold` (the rule the
/// `Predictor` applies to one sigmoid output), to mark the operating point on the curves.
/// A rate that divides by zero is nil.
public struct OperatingPoint: Codable, Sendable, Equatable {
    public var threshold: Double
    public var truePositives: Int
    public var falsePositives: Int
    public var trueNegatives: Int
    public var falseNegatives: Int

    /// `fp / negatives`; nil when there is no negative sample.
    public var falsePositiveRate: Double? {
        let negatives = falsePositives + trueNegatives
        return negatives > 0 ? Double(falsePositives) / Double(negatives) : nil
    }

    /// `tp / positives` (the recall); nil when there is no positive sample.
    public var truePositiveRate: Double? {
        let positives = truePositives + falseNegatives
        return positives > 0 ? Double(truePositives) / Double(positives) : nil
    }

    /// `tp / (tp + fp)`; nil when no sample is predicted positive.
    public var precision: Double? {
        let predicted = truePositives + falsePositives
        return predicted > 0 ? Double(truePositives) / Double(predicted) : nil
    }

    /// Counts `score >= threshold` against the labels. Scores are compared as `Double`: for
    /// `Float` scores and a `Float` threshold `t`, pass `Double(t)` to compare exactly as the
    /// `Predictor` (and numpy, for a float32 array and a float32 scalar) does.
    ///
    /// Nil, as `BinaryCurves.init`, when the input is empty, the counts differ, a label is not
    /// 0 or 1, or a score is not finite. A NaN threshold predicts every sample negative.
    public init?<Score: BinaryFloatingPoint>(scores: [Score], labels: [Int], threshold: Double) {
        guard let samples = BinarySamples(scores: scores, labels: labels) else { return nil }
        self.init(samples, threshold: threshold)
    }

    init(_ samples: BinarySamples, threshold: Double) {
        self.threshold = threshold
        var tp = 0, fp = 0
        for (score, label) in zip(samples.scores, samples.labels) where score >= threshold {
            if label == 1 { tp += 1 } else { fp += 1 }
        }
        truePositives = tp
        falsePositives = fp
        falseNegatives = samples.positives - tp
        trueNegatives = samples.negatives - fp
    }
}

/// The ROC and precision–recall curves of a binary classifier's scores, equal to
/// scikit-learn's `roc_curve`, `roc_auc_score`, `precision_recall_curve` and
/// `average_precision_score` with their default arguments, and the operating point of one
/// decision threshold.
public struct BinaryCurves: Codable, Sendable, Equatable {
    /// The number of samples labelled 1 and 0.
    public var positives: Int
    public var negatives: Int
    public var roc: ROCCurve
    public var precisionRecall: PrecisionRecallCurve
    /// The predictions `score >= threshold`.
    public var operatingPoint: OperatingPoint

    /// - Parameters:
    ///   - scores: the probability (or any score) of the positive class, label 1, per sample.
    ///     `Float` and `Double` scores convert to `Double` exactly; ties are grouped as
    ///     scikit-learn groups them (equal values).
    ///   - labels: the true labels, 0 or 1.
    ///   - threshold: the decision threshold of `operatingPoint` (see `OperatingPoint.init`).
    /// - Returns: nil when the input is empty, `scores` and `labels` differ in length, a label
    ///   is not 0 or 1, or a score is NaN or infinite (scikit-learn raises for each). One
    ///   class only is not an error: the curves are returned with `isDefined` false.
    public init?<Score: BinaryFloatingPoint>(scores: [Score], labels: [Int], threshold: Double = 0.5) {
        guard let samples = BinarySamples(scores: scores, labels: labels) else { return nil }
        positives = samples.positives
        negatives = samples.negatives
        operatingPoint = OperatingPoint(samples, threshold: threshold)

        // scikit-learn's confusion_matrix_at_thresholds: sort by decreasing score (stable),
        // and at the last sample of each run of equal scores, the cumulative tp and fp.
        let order = samples.scores.indices.sorted { a, b in
            let sa = samples.scores[a], sb = samples.scores[b]
            return sa > sb || (sa == sb && a < b)
        }
        var distinct: [Double] = []      // decreasing
        var tps: [Int] = [], fps: [Int] = []
        var tp = 0, fp = 0
        for (rank, index) in order.enumerated() {
            if samples.labels[index] == 1 { tp += 1 } else { fp += 1 }
            let isLastOfRun = rank == order.count - 1 || samples.scores[order[rank + 1]] != samples.scores[index]
            if isLastOfRun {
                distinct.append(samples.scores[index])
                tps.append(tp)
                fps.append(fp)
            }
        }
        roc = BinaryCurves.rocCurve(distinct: distinct, tps: tps, fps: fps)
        precisionRecall = BinaryCurves.precisionRecallCurve(distinct: distinct, tps: tps, fps: fps)
    }

    /// scikit-learn's `roc_curve` from the cumulative counts at the distinct scores.
    static func rocCurve(distinct: [Double], tps: [Int], fps: [Int]) -> ROCCurve {
        // drop_intermediate: keep the ends and every point where fps or tps bends.
        var kept = Array(distinct.indices)
        if distinct.count > 2 {
            kept = [0]
            for i in 1..<(distinct.count - 1) {
                let fpsBend = fps[i + 1] - 2 * fps[i] + fps[i - 1]
                let tpsBend = tps[i + 1] - 2 * tps[i] + tps[i - 1]
                if fpsBend != 0 || tpsBend != 0 { kept.append(i) }
            }
            kept.append(distinct.count - 1)
        }
        let thresholds = [Double.infinity] + kept.map { distinct[$0] }
        let fp = [0] + kept.map { fps[$0] }
        let tp = [0] + kept.map { tps[$0] }
        func rates(_ counts: [Int]) -> [Double]? {
            guard let total = counts.last, total > 0 else { return nil }
            return counts.map { Double($0) / Double(total) }
        }
        let fpr = rates(fp), tpr = rates(tp)
        var auc: Double?
        if let x = fpr, let y = tpr {
            // numpy.trapezoid(y, x): sum of diff(x) * (y[1:] + y[:-1]) / 2.0.
            let terms = (0..<(x.count - 1)).map { (i: Int) -> Double in
                let dx: Double = x[i + 1] - x[i]
                return dx * (y[i + 1] + y[i]) / 2.0
            }
            auc = numpySum(terms)
        }
        return ROCCurve(falsePositiveRates: fpr, truePositiveRates: tpr, thresholds: thresholds, auc: auc)
    }

    /// scikit-learn's `precision_recall_curve` and `average_precision_score` from the
    /// cumulative counts at the distinct scores.
    static func precisionRecallCurve(distinct: [Double], tps: [Int], fps: [Int]) -> PrecisionRecallCurve {
        let positives = tps.last ?? 0
        // Every run holds a sample, so tp + fp > 0.
        let precision = zip(tps, fps).map { tp, fp in Double(tp) / Double(tp + fp) }
        let recall = positives > 0 ? tps.map { Double($0) / Double(positives) } : tps.map { _ in 1.0 }
        let p = Array(precision.reversed()) + [1.0]
        let r = Array(recall.reversed()) + [0.0]
        var averagePrecision: Double?
        if positives > 0 {
            // max(0, -sum(diff(recall) * precision[:-1])).
            let terms = (0..<(r.count - 1)).map { (i: Int) -> Double in (r[i + 1] - r[i]) * p[i] }
            let area = -numpySum(terms)
            averagePrecision = area > 0 ? area : 0
        }
        return PrecisionRecallCurve(precision: p, recall: r, thresholds: Array(distinct.reversed()),
                                    averagePrecision: averagePrecision)
    }
}

/// Validated binary samples, scores as `Double`.
struct BinarySamples {
    var scores: [Double]
    var labels: [Int]
    var positives: Int
    var negatives: Int

    init?<Score: BinaryFloatingPoint>(scores: [Score], labels: [Int]) {
        guard !scores.isEmpty, scores.count == labels.count else { return nil }
        var converted: [Double] = []
        converted.reserveCapacity(scores.count)
        for score in scores {
            let value = Double(score)
            guard value.isFinite else { return nil }
            converted.append(value)
        }
        var positives = 0
        for label in labels {
            guard label == 0 || label == 1 else { return nil }
            positives += label
        }
        self.scores = converted
        self.labels = labels
        self.positives = positives
        self.negatives = labels.count - positives
    }
}

/// `numpy.sum` of a float64 vector: numpy's pairwise summation (blocks of at most 128
/// summed with 8 accumulators), so results equal scikit-learn's to the last bit.
func numpySum(_ values: [Double]) -> Double {
    values.withUnsafeBufferPointer { 0.0 + pairwiseSum($0) }
}

private func pairwiseSum(_ a: UnsafeBufferPointer<Double>) -> Double {
    let n = a.count
    if n < 8 {
        var sum = 0.0
        for v in a { sum += v }
        return sum
    }
    if n <= 128 {
        var r = (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
        var i = 8
        while i < n - n % 8 {
            r.0 += a[i]; r.1 += a[i + 1]; r.2 += a[i + 2]; r.3 += a[i + 3]
            r.4 += a[i + 4]; r.5 += a[i + 5]; r.6 += a[i + 6]; r.7 += a[i + 7]
            i += 8
        }
        var sum = ((r.0 + r.1) + (r.2 + r.3)) + ((r.4 + r.5) + (r.6 + r.7))
        while i < n {
            sum += a[i]
            i += 1
        }
        return sum
    }
    var half = n / 2
    half -= half % 8
    return pairwiseSum(UnsafeBufferPointer(rebasing: a[0..<half]))
        + pairwiseSum(UnsafeBufferPointer(rebasing: a[half...]))
}
