import XCTest
@testable import MienNN

/// TensorFlow's `same` padding puts the odd pixel at the end (bottom/right).
final class PaddingTests: XCTestCase {
    func testSameEvenInputStride2PadsOnlyAfter() {
        // 16 -> 8 with a 3-window: total padding 1, all of it at the end.
        XCTAssertEqual(resolvePadding(.same, input: 16, kernel: 3, stride: 2),
                       AxisPadding(before: 0, after: 1, output: 8))
    }

    func testSameOddInputStride2PadsBothSides() {
        XCTAssertEqual(resolvePadding(.same, input: 15, kernel: 3, stride: 2),
                       AxisPadding(before: 1, after: 1, output: 8))
    }

    func testSameStride1IsSymmetricForOddKernels() {
        XCTAssertEqual(resolvePadding(.same, input: 7, kernel: 3, stride: 1),
                       AxisPadding(before: 1, after: 1, output: 7))
        XCTAssertEqual(resolvePadding(.same, input: 8, kernel: 5, stride: 1),
                       AxisPadding(before: 2, after: 2, output: 8))
    }

    func testSameEvenKernelPutsExtraAtEnd() {
        XCTAssertEqual(resolvePadding(.same, input: 8, kernel: 2, stride: 1),
                       AxisPadding(before: 0, after: 1, output: 8))
        XCTAssertEqual(resolvePadding(.same, input: 9, kernel: 4, stride: 2),
                       AxisPadding(before: 1, after: 2, output: 5))
    }

    func testSameWithDilationUsesEffectiveKernel() {
        // kernel 3, dilation 2 -> effective 5.
        XCTAssertEqual(resolvePadding(.same, input: 10, kernel: 3, stride: 1, dilation: 2),
                       AxisPadding(before: 2, after: 2, output: 10))
    }

    func testSameNeverPadsNegatively() {
        XCTAssertEqual(resolvePadding(.same, input: 9, kernel: 1, stride: 3),
                       AxisPadding(before: 0, after: 0, output: 3))
    }

    func testValid() {
        XCTAssertEqual(resolvePadding(.valid, input: 16, kernel: 3, stride: 2),
                       AxisPadding(before: 0, after: 0, output: 7))
        XCTAssertEqual(resolvePadding(.valid, input: 15, kernel: 3, stride: 2),
                       AxisPadding(before: 0, after: 0, output: 7))
        XCTAssertNil(resolvePadding(.valid, input: 2, kernel: 3, stride: 1))
    }
}
