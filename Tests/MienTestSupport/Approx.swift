import MienNN

/// The one approximate-equality rule of the test suite: every element must satisfy
/// `|actual - expected| <= absolute + relative * scale`, where `scale` is the largest
/// magnitude in `expected` (so tolerances follow the output's scale, not each element's).
public struct Tolerance: Sendable, CustomStringConvertible {
    public var relative: Float
    public var absolute: Float

    public init(relative: Float, absolute: Float = 0) {
        self.relative = relative
        self.absolute = absolute
    }

    public var description: String { "relative \(relative), absolute \(absolute)" }
}

public struct Mismatch: CustomStringConvertible {
    public var index: Int
    public var actual: Float
    public var expected: Float
    public var maxError: Float
    public var allowed: Float
    public var description: String {
        "max |error| \(maxError) > allowed \(allowed); first bad element #\(index): got \(actual), expected \(expected)"
    }
}

/// Nil when `actual` matches `expected` within `tolerance`, else the worst mismatch.
/// Generic so that Double results (metrics) are compared at their own precision.
public func mismatch<T: BinaryFloatingPoint>(_ actual: [T], _ expected: [T], _ tolerance: Tolerance) -> Mismatch? {
    guard actual.count == expected.count else {
        return Mismatch(index: -1, actual: Float(actual.count), expected: Float(expected.count),
                        maxError: .infinity, allowed: 0)
    }
    let scale = expected.reduce(T(0)) { max($0, abs($1)) }
    let allowed = T(tolerance.absolute) + T(tolerance.relative) * scale
    var worst: T = 0
    var firstBad: Int?
    for i in actual.indices {
        let error = abs(actual[i] - expected[i])
        if !(error <= allowed) {   // also catches NaN
            if firstBad == nil { firstBad = i }
            worst = error.isNaN ? .nan : max(worst, error)
        }
    }
    guard let bad = firstBad else { return nil }
    return Mismatch(index: bad, actual: Float(actual[bad]), expected: Float(expected[bad]), maxError: Float(worst),
                    allowed: Float(allowed))
}

public func mismatch(_ actual: Tensor, _ expected: Tensor, _ tolerance: Tolerance) -> Mismatch? {
    guard actual.shape == expected.shape else {
        return Mismatch(index: -1, actual: 0, expected: 0, maxError: .infinity, allowed: 0)
    }
    return mismatch(actual.scalars, expected.scalars, tolerance)
}
