import XCTest
import MienNN
import MienTestSupport

/// A tensor from a shape and its row-major values.
func tensor(_ shape: [Int], _ scalars: [Float]) -> Tensor {
    Tensor(shape: shape, scalars: scalars)
}

/// `1, 2, 3, ...` in the given shape: easy to follow by hand.
func ramp(_ shape: [Int], from start: Float = 1) -> Tensor {
    Tensor(shape: shape, scalars: (0..<Tensor.count(of: shape)).map { start + Float($0) })
}

/// A deterministic pseudo-random tensor, uniform in `range`.
func randomTensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    let scalars = (0..<Tensor.count(of: shape)).map { _ -> Float in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let unit = Float(state >> 40) / Float(1 << 24)
        return range.lowerBound + unit * (range.upperBound - range.lowerBound)
    }
    return Tensor(shape: shape, scalars: scalars)
}

/// Where `layer` first departs from `reference` on `x` beyond `tolerance`, in any kernel
/// build ("build: mismatch"), or nil: how a layer that runs faster is checked against the one
/// it replaces (which the Keras fixtures check against Keras).
func forwardMismatch(_ layer: any Layer, _ reference: any Layer, on x: Tensor, _ tolerance: Tolerance) throws -> String? {
    let expected = try reference.forward([x])
    var found: String?
    try everyKernelBuild { build in
        if found == nil, let bad = mismatch(try layer.forward([x]), expected, tolerance) { found = "\(build): \(bad)" }
    }
    return found
}

/// `layer` with each parameter drawn uniformly (parameter i from seed `seed + i`): in
/// −0.5...0.5, and in 0.5...1.5 for a moving variance or a gamma.
func randomized<L: Layer>(_ layer: L, seed: UInt64) throws -> L {
    var l = layer
    for (i, p) in l.parameters.enumerated() {
        let range: ClosedRange<Float> = p.name == "moving_variance" || p.name == "gamma" ? 0.5...1.5 : -0.5...0.5
        try l.setParameter(p.name, to: randomTensor(p.value.shape, seed: seed &+ UInt64(i), range: range))
    }
    return l
}

/// Asserts that `body` throws a `LayerError` naming `layer` (in the error and its message).
func assertLayerError<T>(_ layer: String, _ body: @autoclosure () throws -> T,
                         file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard let error = error as? LayerError else {
            return XCTFail("expected a LayerError, got \(error)", file: file, line: line)
        }
        XCTAssertEqual(error.layer, layer, file: file, line: line)
        XCTAssertTrue(error.description.contains("'\(layer)'"), file: file, line: line)
    }
}
