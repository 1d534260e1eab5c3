import XCTest
import MienTestSupport
@testable import MienNN

final class PoolingLayerTests: XCTestCase {
    func testAveragePoolingSameDividesByRealCells() throws {
        // keras.layers.AveragePooling2D(3, 2, "same")(np.arange(1,17).reshape(1,4,4,1)):
        // 4 -> 2 pads one cell at the end only; the bottom-right window covers 2×2 real cells.
        let layer = AveragePooling2D(name: "avg", poolSize: (3, 3), strides: (2, 2), padding: .same)
        XCTAssertEqual(try layer.forward([ramp([1, 4, 4, 1])]).scalars, [6, 7.5, 12, 13.5])
        // keras.layers.AveragePooling2D(3, 2, "same") on 5x5: one padded cell each side.
        // Top-left window = (1+2+6+7)/4 = 4.
        let y = try layer.forward([ramp([1, 5, 5, 1])])
        XCTAssertEqual(y.shape, [1, 3, 3, 1])
        XCTAssertEqual(y.scalars, [4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22])
        // keras.layers.AveragePooling2D(2, 2, "same") on 5x5: the last window is 1 real cell.
        let z = try AveragePooling2D(name: "avg2", padding: .same).forward([ramp([1, 5, 5, 1])])
        XCTAssertEqual(z.scalars, [4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25])
    }

    func testMaxPoolingSameIgnoresPadding() throws {
        // All values negative: a zero-padded cell must never win.
        let x = Tensor(shape: [1, 5, 5, 1], scalars: ramp([1, 5, 5, 1]).scalars.map { -$0 })
        let y = try MaxPooling2D(name: "max", padding: .same).forward([x])
        XCTAssertEqual(y.scalars, [-1, -3, -5, -11, -13, -15, -21, -23, -25])
    }

    func testPoolingValidAndChannels() throws {
        let layer = MaxPooling2D(name: "max", poolSize: (2, 2), strides: (1, 1))
        let y = try layer.forward([ramp([1, 2, 3, 2])])
        // Channel 0 is 1,3,5 / 7,9,11 and channel 1 is 2,4,6 / 8,10,12.
        XCTAssertEqual(y.shape, [1, 1, 2, 2])
        XCTAssertEqual(y.scalars, [9, 10, 11, 12])
        let avg = try AveragePooling2D(name: "avg", poolSize: (2, 2), strides: (1, 1)).forward([ramp([1, 2, 3, 2])])
        XCTAssertEqual(avg.scalars, [5, 6, 7, 8])
    }

    /// The C kernel in each build against the plain definition (the window's real cells in
    /// raster order, the sum divided at the end), bit for bit, on channel counts on both
    /// sides of the vector widths (the layer tests above pin the definition to Keras).
    func testKernelBuildsEqualTheDefinition() throws {
        var generator = SeededGenerator(seed: 7)
        for trial in 0..<40 {
            let (h, w) = (Int.random(in: 1...9, using: &generator), Int.random(in: 1...9, using: &generator))
            let c = [1, 3, 7, 8, 15, 16, 17, 28, 33, 48][trial % 10]
            let pool = (Int.random(in: 1...3, using: &generator), Int.random(in: 1...3, using: &generator))
            let strides = (Int.random(in: 1...3, using: &generator), Int.random(in: 1...3, using: &generator))
            let padding: Padding = trial % 2 == 0 ? .same : .valid
            let x = randomTensor([2, h, w, c], seed: UInt64(trial))
            guard let g = WindowGeometry(input: x.shape, kernel: pool, strides: strides, padding: padding) else { continue }
            for average in [false, true] {
                var expected = [Float](repeating: 0, count: 2 * g.outputHeight * g.outputWidth * c)
                for n in 0..<2 {
                    for oy in 0..<g.outputHeight {
                        let (y0, y1) = g.rowSpan(oy)
                        for ox in 0..<g.outputWidth {
                            let (x0, x1) = g.colSpan(ox)
                            for ch in 0..<c {
                                var v: Float = average ? 0 : -.infinity
                                for iy in y0..<y1 {
                                    for ix in x0..<x1 {
                                        let value = x.scalars[((n * h + iy) * w + ix) * c + ch]
                                        v = average ? v + value : Swift.max(v, value)
                                    }
                                }
                                if average { v /= Float((y1 - y0) * (x1 - x0)) }
                                expected[((n * g.outputHeight + oy) * g.outputWidth + ox) * c + ch] = v
                            }
                        }
                    }
                }
                everyKernelBuild { build in
                    XCTAssertEqual(MienNN.pool(x, geometry: g, average: average).scalars, expected,
                                   "\(build) \(average ? "average" : "max") \(x.shape) pool \(pool) strides \(strides) \(padding)")
                }
            }
        }
    }

    func testShapes() throws {
        let max = MaxPooling2D(name: "max")
        XCTAssertEqual(max.strides.0, 2)
        XCTAssertEqual(try max.outputShape(for: [[nil, 7, 8, 3]]), [nil, 3, 4, 3])
        XCTAssertEqual(try MaxPooling2D(name: "m", poolSize: (3, 3), strides: (2, 2), padding: .same)
            .outputShape(for: [[nil, 15, 16, 3]]), [nil, 8, 8, 3])
        XCTAssertEqual(try AveragePooling2D(name: "a", poolSize: (3, 3), strides: (2, 2), padding: .same)
            .forward([Tensor(zeros: [2, 15, 16, 3])]).shape, [2, 8, 8, 3])
        assertLayerError("max", try max.outputShape(for: [[nil, 7, 3]]))
        assertLayerError("max", try max.outputShape(for: [[nil, 1, 8, 3]]))
        assertLayerError("max", try max.forward([Tensor(zeros: [1, 4, 4])]))
    }

    func testGlobalPooling() throws {
        let x = ramp([1, 3, 3, 2])
        // keras.layers.GlobalAveragePooling2D(keepdims=True)(np.arange(1,19).reshape(1,3,3,2)) -> [9, 10]
        let keep = GlobalAveragePooling2D(name: "gap", keepDims: true)
        XCTAssertEqual(try keep.forward([x]), tensor([1, 1, 1, 2], [9, 10]))
        XCTAssertEqual(try keep.outputShape(for: [[nil, 7, 7, 2]]), [nil, 1, 1, 2])
        XCTAssertEqual(try GlobalAveragePooling2D(name: "gap").forward([x]), tensor([1, 2], [9, 10]))
        XCTAssertEqual(try GlobalMaxPooling2D(name: "gmp").forward([x]), tensor([1, 2], [17, 18]))
        XCTAssertEqual(try GlobalMaxPooling2D(name: "gmp", keepDims: true).outputShape(for: [[nil, 5, 5, 8]]),
                       [nil, 1, 1, 8])
        XCTAssertEqual(try GlobalMaxPooling2D(name: "gmp").outputShape(for: [[nil, 5, 5, 8]]), [nil, 8])
        assertLayerError("gap", try keep.forward([Tensor(zeros: [1, 4])]))
    }
}
