/// The one rule that turns a model's outputs into a class, shared by training's accuracy,
/// the `Predictor`, evaluation and the report: for one sigmoid output, class 1 when
/// `score >= threshold` (scikit-learn's rule for its curves' operating points); otherwise
/// the first largest score (`argmax`). Keras's `binary_accuracy` counts `score > 0.5`
/// instead; the two differ only for a score of exactly 0.5.
public enum Decision {
    /// The class of one row of outputs.
    @inline(__always)
    public static func classIndex(_ scores: UnsafeBufferPointer<Float>, threshold: Float = 0.5) -> Int {
        if scores.count == 1 { return scores[0] >= threshold ? 1 : 0 }
        var best = 0
        for j in scores.indices.dropFirst() where scores[j] > scores[best] { best = j }
        return best
    }

    public static func classIndex(_ scores: [Float], threshold: Float = 0.5) -> Int {
        scores.withUnsafeBufferPointer { classIndex($0, threshold: threshold) }
    }

    /// Whether `threshold` is a usable decision threshold: a number in 0...1.
    public static func isValidThreshold(_ threshold: Float) -> Bool {
        (0...1).contains(threshold)
    }
}
