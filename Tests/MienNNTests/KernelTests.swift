import MienNN
import MienTestSupport
import XCTest

/// The kernels against plain loops written from the definition: the C kernels (depthwise
/// convolution, direct convolution of few-channel inputs) in both builds (AVX2+FMA where the
/// CPU has it, and portable), and the blocked sgemm epilogue of 1×1 convolutions. The Keras
/// fixtures check the same layers against Keras (KerasTests, and EfficientNetTests with the
/// portable build). Sums of at most 100 terms: 1e-5 relative.
final class KernelTests: XCTestCase {
    let tolerance = Tolerance(relative: 1e-5)

    override func tearDown() { VectorKernels.usePortable(false) }

    /// Every output of a window op: `f(n, oy, ox, tap)` summed over in-image taps.
    func reference(_ x: Tensor, _ g: WindowGeometry, outChannels: Int,
                   value: (_ pixel: Int, _ ky: Int, _ kx: Int, _ out: Int) -> Float) -> [Float] {
        var y: [Float] = []
        for n in 0..<g.batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for o in 0..<outChannels {
                        var sum: Float = 0
                        for ky in 0..<g.kernelHeight {
                            for kx in 0..<g.kernelWidth {
                                let iy = oy * g.strideHeight + ky * g.dilationHeight - g.rows.before
                                let ix = ox * g.strideWidth + kx * g.dilationWidth - g.cols.before
                                guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                                sum += value(((n * g.height + iy) * g.width + ix) * g.channels, ky, kx, o)
                            }
                        }
                        y.append(sum)
                    }
                }
            }
        }
        return y
    }

    /// Channel counts that exercise the 32-wide, 8-wide and scalar parts; strides, dilation,
    /// `same` (odd pixel at the bottom/right), `valid`, a folded-in ZeroPadding2D, and a clamp.
    func testDepthwiseMatchesDefinition() throws {
        let cases: [(channels: Int, kernel: Int, stride: Int, dilation: Int, padding: Padding,
                     inputPadding: ((Int, Int), (Int, Int)), activation: Activation)] = [
            (3, 3, 1, 1, .same, ((0, 0), (0, 0)), .linear),
            (40, 3, 2, 1, .valid, ((0, 1), (0, 1)), .relu6),
            (72, 5, 2, 1, .same, ((0, 0), (0, 0)), .relu),
            (13, 3, 1, 2, .same, ((0, 0), (0, 0)), .relu6),
            (8, 5, 1, 1, .valid, ((1, 2), (2, 1)), .linear),
        ]
        for (i, c) in cases.enumerated() {
            var layer = DepthwiseConv2D(name: "dw", inputChannels: c.channels, kernelSize: (c.kernel, c.kernel),
                                        strides: (c.stride, c.stride), dilation: (c.dilation, c.dilation),
                                        padding: c.padding, activation: c.activation)
            layer.inputPadding = c.inputPadding
            let kernel = randomTensor([c.kernel, c.kernel, c.channels, 1], seed: UInt64(i))
            let bias = randomTensor([c.channels], seed: UInt64(100 + i))
            try layer.setParameter("depthwise_kernel", to: kernel)
            try layer.setParameter("bias", to: bias)
            let x = randomTensor([2, 11, 10, c.channels], seed: UInt64(200 + i))
            let g = try XCTUnwrap(WindowGeometry(input: x.shape, kernel: (c.kernel, c.kernel),
                                                 strides: (c.stride, c.stride), dilation: (c.dilation, c.dilation),
                                                 padding: c.padding, inputPadding: c.inputPadding))
            var expected = reference(x, g, outChannels: c.channels) { pixel, ky, kx, o in
                x.scalars[pixel + o] * kernel.scalars[(ky * c.kernel + kx) * c.channels + o]
            }
            for j in expected.indices { expected[j] += bias.scalars[j % c.channels] }
            c.activation.apply(&expected, lastAxis: c.channels)
            try everyKernelBuild { build in
                let y = try layer.forward([x])
                XCTAssertEqual(y.shape, [2, g.outputHeight, g.outputWidth, c.channels])
                XCTAssertEqual(try layer.outputShape(for: [x.shape.map { $0 }]), y.shape.map { $0 })
                if let bad = mismatch(y.scalars, expected, tolerance) { XCTFail("case \(i), \(build): \(bad)") }
            }
        }
    }

    /// Inputs of fewer than 8 channels (or up to 16, with at most 32 filters) take the direct kernel: 16 and 32 filters (several pixels at
    /// a time inside the image: the AVX-512 build's groups of 8, 4, 3, 2 and 1, its 3×3 RGB
    /// and general builds, edges on either side, dilation, the stem's extra zero row and
    /// column of `same` at stride 2), and counts that leave 8-wide and scalar remainders.
    func testDirectConvolutionMatchesDefinition() throws {
        let cases: [(channels: Int, filters: Int, kernel: Int, stride: Int, dilation: Int, padding: Padding,
                     activation: Activation, width: Int)] = [
            (3, 32, 3, 2, 1, .valid, .relu6, 12),
            (3, 32, 3, 1, 1, .same, .linear, 13),
            (3, 32, 3, 2, 1, .same, .relu6, 12),
            (3, 32, 3, 1, 1, .valid, .relu, 12),
            (1, 32, 5, 1, 1, .same, .relu, 12),
            (2, 32, 2, 1, 1, .valid, .linear, 12),
            (3, 32, 3, 1, 2, .same, .relu6, 12),
            (1, 13, 3, 2, 1, .same, .relu, 12),
            (4, 40, 5, 1, 1, .valid, .sigmoid, 12),
            // Fewer than 16 filters are padded to 16 (MTCNN's 10), 17–31 to 32, and copied
            // out, also from 8–16 channels; 40 filters pad to 8s; no bias.
            (3, 10, 3, 1, 1, .valid, .linear, 12),
            (10, 16, 3, 1, 1, .valid, .linear, 11),
            (16, 32, 3, 1, 1, .valid, .linear, 13),
            (12, 6, 2, 2, 1, .same, .relu, 12),
            (5, 44, 3, 1, 1, .same, .linear, 12),
            // 16 filters (and 10, padded to 16) run four interior pixels at a time: strides,
            // dilation and `same` edges leave single pixels on both sides.
            (3, 16, 3, 2, 1, .same, .relu, 13),
            (10, 16, 3, 1, 2, .same, .linear, 14),
            (8, 16, 2, 1, 1, .valid, .relu6, 9),
        ]
        for (i, c) in cases.enumerated() {
            let useBias = i != 12
            var layer = Conv2D(name: "conv", inputChannels: c.channels, filters: c.filters,
                               kernelSize: (c.kernel, c.kernel), strides: (c.stride, c.stride),
                               dilation: (c.dilation, c.dilation), padding: c.padding, useBias: useBias,
                               activation: c.activation)
            let kernel = randomTensor([c.kernel, c.kernel, c.channels, c.filters], seed: UInt64(i))
            let bias = useBias ? randomTensor([c.filters], seed: UInt64(100 + i)) : Tensor(zeros: [c.filters])
            try layer.setParameter("kernel", to: kernel)
            if useBias { try layer.setParameter("bias", to: bias) }
            let x = randomTensor([2, 13, c.width, c.channels], seed: UInt64(200 + i))
            let g = try XCTUnwrap(WindowGeometry(input: x.shape, kernel: (c.kernel, c.kernel),
                                                 strides: (c.stride, c.stride), dilation: (c.dilation, c.dilation),
                                                 padding: c.padding))
            var expected = reference(x, g, outChannels: c.filters) { pixel, ky, kx, o in
                (0..<c.channels).reduce(Float(0)) { sum, ch in
                    sum + x.scalars[pixel + ch]
                        * kernel.scalars[((ky * c.kernel + kx) * c.channels + ch) * c.filters + o]
                }
            }
            for j in expected.indices { expected[j] += bias.scalars[j % c.filters] }
            c.activation.apply(&expected, lastAxis: c.filters)
            try everyKernelBuild { build in
                let y = try layer.forward([x])
                XCTAssertEqual(y.shape, [2, g.outputHeight, g.outputWidth, c.filters])
                if let bad = mismatch(y.scalars, expected, tolerance) { XCTFail("case \(i), \(build): \(bad)") }
            }
        }
    }

    /// A 1×1 convolution is one matrix product finished in blocks of rows: 300 rows of 512
    /// filters make three blocks (128 rows each at most); with and without a bias.
    func testPointwiseBlocksMatchDefinition() throws {
        for useBias in [true, false] {
            var layer = Conv2D(name: "pw", inputChannels: 5, filters: 512, kernelSize: (1, 1), useBias: useBias,
                               activation: .relu6)
            let kernel = randomTensor([1, 1, 5, 512], seed: 1, range: -2...2)
            try layer.setParameter("kernel", to: kernel)
            var bias = Tensor(zeros: [512])
            if useBias {
                bias = randomTensor([512], seed: 2)
                try layer.setParameter("bias", to: bias)
            }
            let x = randomTensor([1, 15, 20, 5], seed: 3)
            var expected: [Float] = []
            for pixel in 0..<300 {
                for f in 0..<512 {
                    expected.append((0..<5).reduce(bias.scalars[f]) { $0 + x.scalars[pixel * 5 + $1] * kernel.scalars[$1 * 512 + f] })
                }
            }
            Activation.relu6.apply(&expected, lastAxis: 512)
            let y = try layer.forward([x])
            XCTAssertEqual(y.shape, [1, 15, 20, 512])
            if let bad = mismatch(y.scalars, expected, tolerance) { XCTFail("bias \(useBias): \(bad)") }
        }
    }

    func testPortableBuildCanBeChosen() {
        VectorKernels.usePortable(true)
        XCTAssertEqual(VectorKernels.instructionSet, "portable")
        VectorKernels.usePortable(false)
        XCTAssertTrue(["AVX-512", "AVX2+FMA", "portable"].contains(VectorKernels.instructionSet))
        VectorKernels.limit(to: .avx2)
        XCTAssertLessThanOrEqual(VectorKernels.level, .avx2)
        VectorKernels.limit(to: nil)
    }
}
