/// Keras's `padding` argument of convolutions and poolings.
public enum Padding: String, Sendable {
    case valid, same
}

/// How one spatial axis is padded and how long the output is.
public struct AxisPadding: Sendable, Equatable {
    public var before: Int
    public var after: Int
    public var output: Int

    public init(before: Int, after: Int, output: Int) {
        self.before = before
        self.after = after
        self.output = output
    }
}

/// Resolves `padding` for one axis exactly as TensorFlow does: with `same`, the output is
/// `ceil(input / stride)` and when the total padding is odd the extra pixel goes at the
/// end (bottom/right) — unlike PyTorch and Caffe, which pad symmetrically.
/// Returns nil when the window does not fit the input (`valid` on a too-small input) or is
/// not a window (a kernel, stride or dilation below 1, or one that overflows).
public func resolvePadding(_ padding: Padding, input: Int, kernel: Int, stride: Int,
                           dilation: Int = 1) -> AxisPadding? {
    guard input >= 0, kernel >= 1, stride >= 1, dilation >= 1,
          case let (span, overflow) = (kernel - 1).multipliedReportingOverflow(by: dilation), !overflow,
          span < Int.max / 4, input < Int.max / 4, stride < Int.max / 4 else { return nil }
    let effective = span + 1
    switch padding {
    case .valid:
        guard input >= effective else { return nil }
        return AxisPadding(before: 0, after: 0, output: (input - effective) / stride + 1)
    case .same:
        let output = (input + stride - 1) / stride
        let total = max((output - 1) * stride + effective - input, 0)
        return AxisPadding(before: total / 2, after: total - total / 2, output: output)
    }
}
