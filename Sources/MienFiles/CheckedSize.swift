/// Sizes read from untrusted files (shapes, extents, element counts) multiplied without
/// wrapping around: a shape such as [2^40, 2^40] must not become a small count that then
/// "matches" something.
public enum CheckedSize {
    /// The product of `dims`, or nil if it overflows `Int`.
    public static func product(_ dims: some Sequence<Int>) -> Int? {
        var result = 1
        for d in dims {
            let (p, overflow) = result.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            result = p
        }
        return result
    }
}
