@testable import MienNN
import MienTestSupport
import XCTest

/// `PackedConv2D` against the Conv2D it replaces (which the Keras fixtures check
/// against Keras), in every kernel build, with one image's rows split across threads.
/// Sums of up to 300 float32 terms in another order: 1e-5 of the output's scale.
final class PackedConv2DTests: XCTestCase {
    let tolerance = Tolerance(relative: 1e-5)

    override func tearDown() { VectorKernels.limit(to: nil) }

    func testEqualsTheConv2DItReplaces() throws {
        // (input channels, filters, activation, bias): k over 192 runs in parts; 1280 as
        // EfficientNet's top_conv; 17 filters end in a partial panel; P-Net's 2-filter
        // softmax and a sigmoid run after the product.
        let cases: [(Int, Int, Activation, Bool)] = [(320, 1280, .relu6, true), (5, 17, .linear, false),
                                                     (300, 40, .relu, true), (32, 2, .softmax, true), (8, 3, .sigmoid, true)]
        for (i, c) in cases.enumerated() {
            let conv = try randomized(Conv2D(name: "pw", inputChannels: c.0, filters: c.1, kernelSize: (1, 1),
                                             useBias: c.3, activation: c.2), seed: UInt64(10 * i))
            let packed = try XCTUnwrap(PackedConv2D(conv))
            XCTAssertEqual(packed.parameters.map(\.name), conv.parameters.map(\.name))
            for batch in [1, 3] {
                let x = randomTensor([batch, 7, 5, c.0], seed: UInt64(100 + 10 * i + batch))
                if let bad = try forwardMismatch(packed, conv, on: x, tolerance) { XCTFail("case \(i), batch \(batch): \(bad)") }
                let split = try IntraImageParallelism.$cores.withValue(3) { try packed.forward([x.batch(0..<1)]) }
                if let bad = mismatch(split, try conv.forward([x.batch(0..<1)]), tolerance) {
                    XCTFail("case \(i), rows split: \(bad)")
                }
            }
            XCTAssertThrowsError(try packed.forward([randomTensor([1, 2, 2, c.0 + 1], seed: 1)]))
        }
    }

    /// A window run by im2col and the packed product: MTCNN's R-Net and O-Net shapes (3×3
    /// and 2×2 over 28–64 channels, `valid`), and `same` padding, strides, dilation and
    /// folded input zeros, which im2col turns into zero columns; with and without a bias.
    func testWindowsEqualTheConv2DTheyReplace() throws {
        // (channels, filters, kernel, stride, dilation, padding, input zeros, activation, bias)
        let cases: [(Int, Int, Int, Int, Int, Padding, Int, Activation, Bool)] = [
            (28, 48, 3, 1, 1, .valid, 0, .linear, true), (48, 64, 2, 1, 1, .valid, 0, .linear, true),
            (32, 64, 3, 2, 1, .same, 0, .relu, false), (17, 40, 3, 1, 2, .same, 0, .relu6, true),
            (24, 33, 3, 2, 1, .valid, 1, .linear, true), (28, 20, 3, 1, 1, .valid, 0, .softmax, true),
        ]
        for (i, c) in cases.enumerated() {
            var conv = try randomized(Conv2D(name: "w", inputChannels: c.0, filters: c.1, kernelSize: (c.2, c.2),
                                             strides: (c.3, c.3), dilation: (c.4, c.4), padding: c.5, useBias: c.8,
                                             activation: c.7), seed: UInt64(10 * i))
            conv.inputPadding = ((c.6, c.6), (c.6, c.6))
            let packed = try XCTUnwrap(PackedConv2D(conv), "case \(i)")
            for batch in [1, 3] {
                let x = randomTensor([batch, 11, 9, c.0], seed: UInt64(100 + 10 * i + batch))
                if let bad = try forwardMismatch(packed, conv, on: x, tolerance) { XCTFail("case \(i), batch \(batch): \(bad)") }
            }
            XCTAssertThrowsError(try packed.forward([randomTensor([1, 11, 9, c.0 + 1], seed: 1)]))
        }
    }

    /// 1×1 stride-1 convolutions are packed, and windows that are not few-channel ones the
    /// direct kernel computes; whatever their activation.
    func testWhichConvolutionsArePacked() {
        XCTAssertNotNil(PackedConv2D(Conv2D(name: "e", inputChannels: 28, filters: 48, kernelSize: (3, 3))))
        XCTAssertNil(PackedConv2D(Conv2D(name: "f", inputChannels: 16, filters: 32, kernelSize: (3, 3))))
        XCTAssertNotNil(PackedConv2D(Conv2D(name: "g", inputChannels: 28, filters: 48, kernelSize: (3, 3),
                                            activation: .sigmoid)))
        XCTAssertNotNil(PackedConv2D(Conv2D(name: "a", inputChannels: 4, filters: 8, kernelSize: (1, 1))))
        XCTAssertNil(PackedConv2D(Conv2D(name: "b", inputChannels: 4, filters: 8, kernelSize: (3, 3))))
        XCTAssertNil(PackedConv2D(Conv2D(name: "c", inputChannels: 4, filters: 8, kernelSize: (1, 1),
                                        strides: (2, 2))))
        XCTAssertNotNil(PackedConv2D(Conv2D(name: "d", inputChannels: 4, filters: 8, kernelSize: (1, 1),
                                            activation: .softmax)))
    }
}
