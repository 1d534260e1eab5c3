/// A dense row-major `Float` tensor. Images are NHWC, as in Keras's `channels_last`.
///
/// A value type backed by a copy-on-write array, so layers can pass tensors around
/// without defensive copies.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var scalars: [Float]

    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(Tensor.count(of: shape) == scalars.count,
                     "shape \(shape) needs \(Tensor.count(of: shape)) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor whose every element the caller overwrites before reading it (a matrix
    /// product's output): skips the zero-fill, a pass over memory per layer.
    init(uninitialized shape: [Int]) {
        let count = Tensor.count(of: shape)
        self.init(shape: shape, scalars: [Float](unsafeUninitializedCapacity: count) { _, initialized in
            initialized = count   // Float has no invalid bit patterns; callers write every element
        })
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: Tensor.count(of: shape)))
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: Tensor.count(of: shape)))
    }

    public var count: Int { scalars.count }
    public var rank: Int { shape.count }

    public static func count(of shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The same scalars under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// Items `range` of the first (batch) axis, as a tensor of their own.
    public func batch(_ range: Range<Int>) -> Tensor {
        let perItem = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [range.count] + Array(shape.dropFirst()),
                      scalars: Array(scalars[range.lowerBound * perItem..<range.upperBound * perItem]))
    }

    /// An NHWC batch with every image flipped left to right (the width axis reversed).
    public func mirrored() -> Tensor {
        precondition(rank == 4, "mirrored: expects an NHWC batch, got \(shape)")
        let (rows, width, channels) = (shape[0] * shape[1], shape[2], shape[3])
        var out = self
        scalars.withUnsafeBufferPointer { x in
            out.scalars.withUnsafeMutableBufferPointer { y in
                for r in 0..<rows {
                    let row = r * width * channels
                    for w in 0..<width {
                        let from = row + (width - 1 - w) * channels, to = row + w * channels
                        for c in 0..<channels { y[to + c] = x[from + c] }
                    }
                }
            }
        }
        return out
    }

    /// Same shape and the same bits in every element (a NaN equals the same NaN; 0 and -0
    /// differ): how a written file is compared with what was meant to be written.
    public func isBitwiseEqual(to other: Tensor) -> Bool {
        shape == other.shape && scalars.withUnsafeBytes { a in other.scalars.withUnsafeBytes { a.elementsEqual($0) } }
    }

    /// Replaces the shape in place; the element count must not change.
    public mutating func reshape(_ newShape: [Int]) {
        precondition(Tensor.count(of: newShape) == scalars.count, "cannot reshape \(shape) to \(newShape)")
        shape = newShape
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape): [\(head)\(scalars.count > 8 ? ", ..." : "")])"
    }
}

/// A Keras-style shape: the batch dimension first, `nil` where unknown (`None` in Keras).
public typealias Shape = [Int?]

public extension Array where Element == Int? {
    /// Renders like Keras's summary: `(None, 8, 8, 3)`.
    var kerasDescription: String {
        let parts = map { $0.map(String.init) ?? "None" }
        return "(" + parts.joined(separator: ", ") + (count == 1 ? ",)" : ")")
    }
}
