import Foundation

/// "Nice" axis ticks: evenly spaced values whose step is 1, 2 or 5 × 10^k (like
/// matplotlib's `MaxNLocator`), with labels that all show the same number of decimals.
/// Readers compare values along an axis, so round steps matter more than filling the
/// range exactly.
public struct Ticks: Sendable, Equatable {
    /// The axis range: the data range widened to whole steps (`covering`), or the range
    /// given (`fixed`).
    public var lower: Double
    public var upper: Double
    public var step: Double
    /// The tick positions, ascending, all within `lower...upper`.
    public var values: [Double]
    /// One label per value.
    public var labels: [String]

    /// Ticks for data `values` (non-finite values are ignored). The axis is widened to the
    /// enclosing multiples of the step, so every point lies inside it. No finite value
    /// gives the range 0...1; a single distinct value is widened around itself, so a
    /// one-epoch run still gets a readable axis. `integers` keeps steps ≥ 1 (epochs).
    public init(covering values: some Sequence<Double>, maxIntervals: Int = 5, integers: Bool = false) {
        var low = Double.infinity
        var high = -Double.infinity
        for value in values where value.isFinite {
            low = min(low, value)
            high = max(high, value)
        }
        if low > high {
            self.init(fixed: 0...1, maxIntervals: maxIntervals, integers: integers)
            return
        }
        (low, high) = Ticks.widenedIfDegenerate(low, high, integers: integers)
        let intervals = Ticks.clampedIntervals(maxIntervals)
        for step in Ticks.candidateSteps(span: high - low, maxIntervals: intervals, integers: integers) {
            let first = Ticks.floorIndex(low / step.value)
            let last = Ticks.ceilIndex(high / step.value)
            if last - first <= Double(intervals) {
                self.init(first: first, last: last, step: step)
                return
            }
        }
        self.init(fallbackLower: low, upper: high)
    }

    /// Ticks inside a fixed axis `range` (e.g. accuracy 0...1); the range is kept as
    /// given. A range with non-finite or equal bounds is treated like `covering`.
    public init(fixed range: ClosedRange<Double>, maxIntervals: Int = 5, integers: Bool = false) {
        let (low, high) = (range.lowerBound, range.upperBound)
        guard low.isFinite, high.isFinite, Ticks.isDistinct(low, high) else {
            self.init(covering: [low, high], maxIntervals: maxIntervals, integers: integers)
            return
        }
        let intervals = Ticks.clampedIntervals(maxIntervals)
        for step in Ticks.candidateSteps(span: high - low, maxIntervals: intervals, integers: integers) {
            let first = Ticks.ceilIndex(low / step.value)
            let last = Ticks.floorIndex(high / step.value)
            if last - first <= Double(intervals) {
                self.init(first: first, last: last, step: step)
                lower = low
                upper = high
                return
            }
        }
        self.init(fallbackLower: low, upper: high)
    }

    /// The label of `value` on an axis with step `step`: as many decimals as the step
    /// needs ("0.25" for step 0.05, "20" for step 5), scientific for very large or small
    /// magnitudes ("2e6"), never "-0".
    public static func label(_ value: Double, step: Double) -> String {
        guard value.isFinite else { return "" }
        let value = value + 0   // turns -0 into 0
        let stepExponent = step > 0 && step.isFinite ? Int(floor(log10(step) + 1e-9)) : 0
        let magnitude = abs(value)
        if magnitude >= 1e6 || (magnitude > 0 && stepExponent < -5) {
            let exponent = Int(floor(log10(magnitude) + 1e-9))
            let digits = max(0, min(15, exponent - stepExponent))
            var mantissa = String(format: "%.\(digits)f", value / pow(10, Double(exponent)))
            if mantissa.hasPrefix("-") && Double(mantissa) == 0 { mantissa.removeFirst() }
            return mantissa + "e\(exponent)"
        }
        let decimals = max(0, min(15, -stepExponent))
        let text = String(format: "%.\(decimals)f", value)
        // Rounding may still give "-0.00" for a tiny negative value.
        if text.hasPrefix("-") && Double(text) == 0 { return String(text.dropFirst()) }
        return text
    }

    // MARK: - Construction

    /// A step m × 10^k, kept as its parts so tick values are computed as exact decimals
    /// (0.6, not 0.6000000000000001).
    struct Step {
        var mantissa: Double
        var exponent: Int
        var value: Double { exponent >= 0 ? mantissa * pow(10, Double(exponent)) : mantissa / pow(10, Double(-exponent)) }

        func tick(_ index: Double) -> Double {
            let product = index * mantissa
            let tick = exponent >= 0 ? product * pow(10, Double(exponent)) : product / pow(10, Double(-exponent))
            return tick + 0   // no -0
        }
    }

    private init(first: Double, last: Double, step: Step) {
        let ticks = stride(from: first, through: last, by: 1).map { step.tick($0) }
        self.lower = ticks.first ?? 0
        self.upper = ticks.last ?? 1
        self.step = step.value
        self.values = ticks
        self.labels = ticks.map { Ticks.label($0, step: step.value) }
    }

    /// When no nice step exists (ranges near the limits of `Double`): just the two ends.
    private init(fallbackLower lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
        self.step = upper - lower
        self.values = [lower, upper]
        let step = (upper - lower).isFinite && upper > lower ? (upper - lower) / 10 : 1
        self.labels = [lower, upper].map { Ticks.label($0, step: step) }
    }

    /// Steps from the smallest that could fit (`span / maxIntervals`) upwards.
    private static func candidateSteps(span: Double, maxIntervals: Int, integers: Bool) -> [Step] {
        guard span.isFinite, span > 0 else { return [] }
        var exponent = Int(floor(log10(span / Double(maxIntervals))))
        if integers { exponent = max(exponent, 0) }
        return (exponent...(exponent + 2)).flatMap { k in [1.0, 2, 5].map { Step(mantissa: $0, exponent: k) } }
    }

    /// 1...100: more ticks than that are unreadable, and a bound keeps tick counts small.
    private static func clampedIntervals(_ maxIntervals: Int) -> Int { min(100, max(1, maxIntervals)) }

    /// Floor and ceiling that forgive rounding error: 0.6 / 0.2 = 2.9999999999999996 is 3.
    private static func floorIndex(_ x: Double) -> Double { floor(x + 1e-9 * max(1, abs(x))) }
    private static func ceilIndex(_ x: Double) -> Double { ceil(x - 1e-9 * max(1, abs(x))) }

    /// Whether two values are far enough apart (relative to their size) to be an axis.
    private static func isDistinct(_ low: Double, _ high: Double) -> Bool {
        let span = high - low
        return span.isFinite && span > max(abs(low), abs(high)) * 1e-12 && span > 1e-200
    }

    /// A single value v becomes v ± half an order of magnitude of v (±1 for 0 or for
    /// integer axes), so its tick labels are distinct.
    private static func widenedIfDegenerate(_ low: Double, _ high: Double, integers: Bool) -> (Double, Double) {
        if isDistinct(low, high) { return (low, high) }
        let value = (low + high) / 2
        if integers { return (value - 1, value + 1) }
        if abs(value) < 1e-200 { return (-1, 1) }
        let delta = pow(10, floor(log10(abs(value)))) / 2
        return (value - delta, value + delta)
    }
}
