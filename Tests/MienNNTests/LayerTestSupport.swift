import XCTest
import MienNN

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
