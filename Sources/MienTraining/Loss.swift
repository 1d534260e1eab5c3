import Foundation
import MienNN

/// Keras's classification losses, with Keras 3's `"sum_over_batch_size"` reduction.
///
/// Labels are class indices: 0 or 1 for `binaryCrossentropy` (outputs `[N, 1]`, one sigmoid
/// unit), `0..<k` for `categoricalCrossentropy` (outputs `[N, k]`, one-hot targets implied).
///
/// Reduction, as Keras 3 computes it (checked by `tools/make_training_fixtures.py`):
/// `loss = Σ_i w_i · l_i / N`, the weighted per-sample losses summed and divided by the
/// batch size `N` (not by `Σ w_i`); without sample weights `w_i = 1`. Class weights enter as
/// `w_i = classWeights[label_i]`, exactly as `model.fit(class_weight=…)` does.
///
/// Keras has two paths, and both are here:
/// * `evaluate(logits:…)`: what `model.fit`, `model.evaluate` and a `GradientTape` over
///   `model(x)` compute when the output comes straight from a sigmoid or softmax activation:
///   Keras 3 caches the pre-activation (`_keras_logits`) and uses
///   `sigmoid_cross_entropy_with_logits` / `softmax_cross_entropy_with_logits` — no clipping.
///   The head trains with this one.
/// * `evaluate(outputs:…)`: Keras's loss on a plain probability tensor: probabilities clipped
///   to `[1e-7, 1 − 1e-7]`; categorical first divides each row by its sum.
public enum Loss: String, Codable, Sendable, CaseIterable {
    case binaryCrossentropy
    case categoricalCrossentropy

    /// Keras's `backend.epsilon()`, the clipping bound of the probability path.
    public static let epsilon: Float = 1e-7
    /// `1 − epsilon` rounded once to Float, as Keras computes it (in double, then cast).
    static let upperClip = Float(1.0 - 1e-7)

    /// The output activation whose pre-activation `evaluate(logits:)` takes.
    public var outputActivation: Activation {
        self == .binaryCrossentropy ? .sigmoid : .softmax
    }

    /// The loss for a head with this many output units: one unit is binary, more categorical.
    public static func forOutputUnits(_ units: Int) -> Loss {
        units == 1 ? .binaryCrossentropy : .categoricalCrossentropy
    }

    /// Keras's loss on post-activation outputs (probabilities), with Keras's clipping to
    /// `[1e-7, 1 − 1e-7]` (and, for categorical, the renormalisation of each row) and the
    /// weighted `sum_over_batch_size` reduction. Returns the loss and dLoss/dOutputs, as
    /// TensorFlow differentiates it (zero where the clipping is active).
    public func evaluate(outputs: Tensor, labels: [Int], sampleWeights: [Float]?) -> (loss: Float, gradient: Tensor) {
        let (n, units) = check(outputs, labels, sampleWeights)
        var gradient = Tensor(zeros: outputs.shape)
        guard n > 0 else { return (0, gradient) }
        let lower = Loss.epsilon, upper = Loss.upperClip
        var total: Double = 0
        outputs.scalars.withUnsafeBufferPointer { p in
            gradient.scalars.withUnsafeMutableBufferPointer { d in
                for i in 0..<n {
                    let w = sampleWeights?[i] ?? 1
                    let scale = w / Float(n)
                    switch self {
                    case .binaryCrossentropy:
                        let y = Float(labels[i])
                        let raw = p[i]
                        let q = min(max(raw, lower), upper)
                        let l = -(y * Foundation.log(q) + (1 - y) * Foundation.log(1 - q))
                        total += Double(l * w)
                        let pass: Float = raw >= lower && raw <= upper ? 1 : 0
                        d[i] = -(y / q - (1 - y) / (1 - q)) * pass * scale
                    case .categoricalCrossentropy:
                        let row = i * units, c = labels[i]
                        var sum: Float = 0
                        for j in 0..<units { sum += p[row + j] }
                        let q = p[row + c] / sum
                        let qc = min(max(q, lower), upper)
                        total += Double(-Foundation.log(qc) * w)
                        // dL/dq_c = −1/qc (others 0); through q = p / Σp:
                        // dL/dp_k = gq_k / S − gq_c · p_c / S².
                        let gq: Float = q >= lower && q <= upper ? -1 / qc : 0
                        let shared = -gq * p[row + c] / (sum * sum)
                        for j in 0..<units { d[row + j] = shared * scale }
                        d[row + c] += gq / sum * scale
                    }
                }
            }
        }
        return (Float(total / Double(n)), gradient)
    }

    /// Keras's loss from the pre-activation `logits` of the output's sigmoid or softmax — the
    /// path `model.fit` takes for a sigmoid / softmax output. Per sample:
    /// `max(z, 0) − z·y + log(1 + e^−|z|)` (binary) or `logsumexp(z) − z_label` (categorical).
    /// Returns the loss and dLoss/dLogits: `w_i / N · (sigmoid(z) − y)` or
    /// `w_i / N · (softmax(z) − onehot)`.
    public func evaluate(logits: Tensor, labels: [Int], sampleWeights: [Float]?) -> (loss: Float, gradient: Tensor) {
        let (n, units) = check(logits, labels, sampleWeights)
        var gradient = Tensor(zeros: logits.shape)
        guard n > 0 else { return (0, gradient) }
        var total: Double = 0
        logits.scalars.withUnsafeBufferPointer { z in
            gradient.scalars.withUnsafeMutableBufferPointer { d in
                for i in 0..<n {
                    let w = sampleWeights?[i] ?? 1
                    let scale = w / Float(n)
                    switch self {
                    case .binaryCrossentropy:
                        let y = Float(labels[i]), v = z[i]
                        let l = max(v, 0) - v * y + Foundation.log1p(Foundation.exp(-abs(v)))
                        total += Double(l * w)
                        d[i] = (sigmoid(v) - y) * scale
                    case .categoricalCrossentropy:
                        let row = i * units, c = labels[i]
                        var peak = -Float.infinity
                        for j in 0..<units { peak = max(peak, z[row + j]) }
                        var sum: Float = 0
                        for j in 0..<units {
                            let e = Foundation.exp(z[row + j] - peak)
                            d[row + j] = e
                            sum += e
                        }
                        let l = Foundation.log(sum) - (z[row + c] - peak)
                        total += Double(l * w)
                        let inv = 1 / sum
                        for j in 0..<units { d[row + j] = d[row + j] * inv * scale }
                        d[row + c] -= scale
                    }
                }
            }
        }
        return (Float(total / Double(n)), gradient)
    }

    /// Checks shapes and labels (programming errors: preconditions); returns `(N, units)`.
    private func check(_ x: Tensor, _ labels: [Int], _ weights: [Float]?) -> (Int, Int) {
        precondition(x.rank == 2, "\(self): expected outputs [N, units], got \(x.shape)")
        let (n, units) = (x.shape[0], x.shape[1])
        precondition(labels.count == n, "\(self): \(labels.count) labels for \(n) outputs")
        if let weights { precondition(weights.count == n, "\(self): \(weights.count) sample weights for \(n) outputs") }
        switch self {
        case .binaryCrossentropy:
            precondition(units == 1, "binaryCrossentropy: expected one output unit, got \(units)")
            precondition(labels.allSatisfy { $0 == 0 || $0 == 1 }, "binaryCrossentropy: labels must be 0 or 1")
        case .categoricalCrossentropy:
            precondition(units >= 2, "categoricalCrossentropy: expected at least two output units, got \(units)")
            precondition(labels.allSatisfy { $0 >= 0 && $0 < units }, "categoricalCrossentropy: labels must be in 0..<\(units)")
        }
        return (n, units)
    }
}

@inline(__always)
func sigmoid(_ v: Float) -> Float {
    if v >= 0 { return 1 / (1 + Foundation.exp(-v)) }
    let e = Foundation.exp(v)
    return e / (1 + e)
}

/// The predicted class of each row of a head's probabilities (`Decision.classIndex`).
public func predictedClasses(_ probabilities: Tensor, threshold: Float = 0.5) -> [Int] {
    precondition(probabilities.rank == 2, "predictedClasses: expected [N, units], got \(probabilities.shape)")
    let (n, units) = (probabilities.shape[0], probabilities.shape[1])
    guard units > 0 else { return [Int](repeating: 0, count: n) }
    return probabilities.scalars.withUnsafeBufferPointer { p in
        (0..<n).map { i in Decision.classIndex(UnsafeBufferPointer(rebasing: p[i * units..<(i + 1) * units]), threshold: threshold) }
    }
}
