import MienCKernels

/// An inverted-residual block (MobileNetV2's, EfficientNet's MBConv) run as one kernel at
/// inference: `[1×1 expand] → DepthwiseConv2D → 1×1 project [→ Add(block input)]`.
///
/// Not a Keras layer: `optimizedForInference(forRunning: true)` builds it from the layers
/// it replaces (each with BatchNormalization already folded in) so that the expanded
/// activation, the widest tensor of the block, never goes to memory (see `mbconv.c`). The
/// weights are packed once, here, into the layout the kernel reads.
public struct InvertedResidualBlock: Layer {
    public var name: String
    public var kerasClass: String { "InvertedResidualBlock" }
    public var trainable: Bool = false
    public let expand: Conv2D?
    public let depthwise: DepthwiseConv2D
    public let project: Conv2D
    /// Whether the block's input is added to the projection (the block's `Add`).
    public let residual: Bool
    private let packedExpand: [Float]?
    private let packedProject: [Float]
    private let depthwiseBias: [Float]

    /// Nil when the layers do not form a block the kernel computes (see `fits`).
    public init?(expand: Conv2D?, depthwise: DepthwiseConv2D, project: Conv2D, residual: Bool) {
        guard Self.fits(expand: expand, depthwise: depthwise, project: project, residual: residual) else { return nil }
        self.name = project.name
        self.expand = expand
        self.depthwise = depthwise
        self.project = project
        self.residual = residual
        packedExpand = expand?.packedForProduct()
        packedProject = project.packedForProduct()
        depthwiseBias = depthwise.bias?.scalars ?? [Float](repeating: 0, count: depthwise.outputChannels)
    }

    /// Whether the layers form a block the kernel computes: 1×1 stride-1 expand and project
    /// convolutions, a depthwise convolution with multiplier 1 and dilation 1, activations
    /// that are clamps (linear, ReLU, ReLU6), and for `residual` as many outputs as inputs.
    /// Checked before any weight is packed.
    public static func fits(expand: Conv2D?, depthwise: DepthwiseConv2D, project: Conv2D, residual: Bool) -> Bool {
        func isPointwise(_ c: Conv2D) -> Bool {
            c.kernelSize == (1, 1) && c.strides == (1, 1) && !c.hasInputPadding && c.activation.clampRange != nil
        }
        let inputChannels = expand?.kernel.shape[2] ?? depthwise.inputChannels
        return isPointwise(project) && (expand.map(isPointwise) ?? true)
            && depthwise.depthMultiplier == 1 && depthwise.dilation == (1, 1)
            && depthwise.activation.clampRange != nil && depthwise.kernelSize.0 <= 64
            && project.kernel.shape[2] == depthwise.outputChannels
            && (expand.map { $0.filters == depthwise.inputChannels } ?? true)
            && (!residual || inputChannels == project.filters)
    }

    public var parameters: [Parameter] {
        let parts: [any Layer] = (expand.map { [$0] } ?? []) + [depthwise, project]
        return parts.flatMap { layer in
            layer.parameters.map { Parameter(Graph.path(layer: layer.name, $0.name), $0.value, trainable: false) }
        }
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        var shape = try single(inputShapes)
        if let expand { shape = try expand.outputShape(for: [shape]) }
        let output = try project.outputShape(for: [depthwise.outputShape(for: [shape])])
        if residual, !Graph.compatible(output, try single(inputShapes)) {
            throw LayerError(layer: name, "the residual input \(try single(inputShapes).kerasDescription) differs from the block's output \(output.kerasDescription)")
        }
        return output
    }

    /// The three convolutions' operations (the residual add, like other element-wise ops, is not counted).
    public func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int {
        let input = try single(inputs)
        let expanded = try expand.map { try $0.outputShape(for: [input]) } ?? input
        let filtered = try depthwise.outputShape(for: [expanded])
        return try (expand?.flopsPerImage(inputs: [input], output: expanded) ?? 0)
            + depthwise.flopsPerImage(inputs: [expanded], output: filtered)
            + project.flopsPerImage(inputs: [filtered], output: output)
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        let inputChannels = expand?.kernel.shape[2] ?? depthwise.inputChannels
        guard x.rank == 4, x.shape[3] == inputChannels else {
            throw LayerError(layer: name, "got input of shape \(x.shape), expected [batch, height, width, \(inputChannels)]")
        }
        let expandedShape = [x.shape[0], x.shape[1], x.shape[2], depthwise.inputChannels]
        guard let g = WindowGeometry(input: expandedShape, kernel: depthwise.kernelSize, strides: depthwise.strides,
                                     padding: depthwise.padding, inputPadding: depthwise.inputPadding) else {
            throw LayerError(layer: name, "window \(depthwise.kernelSize) does not fit input \(x.shape) with 'valid' padding")
        }
        if residual, (g.outputHeight, g.outputWidth) != (g.height, g.width) {
            throw LayerError(layer: name, "the residual input \(x.shape) differs from the block's output")
        }
        var output = Tensor(uninitialized: [g.batch, g.outputHeight, g.outputWidth, project.filters])
        guard output.count > 0 else { return output }
        let (expandRange, depthwiseRange, projectRange) = (
            expand?.activation.clampRange ?? -Float.infinity...Float.infinity,
            depthwise.activation.clampRange!, project.activation.clampRange!)
        withOptionalPointer(packedExpand) { expandWeights in
            depthwiseBias.withUnsafeBufferPointer { dwBias in
                depthwise.depthwiseKernel.scalars.withUnsafeBufferPointer { dwKernel in
                    packedProject.withUnsafeBufferPointer { projectWeights in
                        var block = mien_mbconv(
                            height: Int32(g.height), width: Int32(g.width), in_channels: Int32(inputChannels),
                            expanded: Int32(g.channels), out_channels: Int32(project.filters),
                            kernel_height: Int32(g.kernelHeight), kernel_width: Int32(g.kernelWidth),
                            stride_height: Int32(g.strideHeight), stride_width: Int32(g.strideWidth),
                            pad_top: Int32(g.rows.before), pad_left: Int32(g.cols.before),
                            output_height: Int32(g.outputHeight), output_width: Int32(g.outputWidth),
                            expand: expandWeights, expand_lower: expandRange.lowerBound,
                            expand_upper: expandRange.upperBound,
                            depthwise: dwKernel.baseAddress, depthwise_bias: dwBias.baseAddress,
                            depthwise_lower: depthwiseRange.lowerBound, depthwise_upper: depthwiseRange.upperBound,
                            project: projectWeights.baseAddress, project_lower: projectRange.lowerBound,
                            project_upper: projectRange.upperBound, residual: residual ? 1 : 0)
                        run(&block, x: x, into: &output, geometry: g)
                    }
                }
            }
        }
        return output
    }

    /// Runs the kernel over every image on the calling thread: image by image in bands of
    /// rows, or several small maps per pass; or, for a single image with
    /// `IntraImageParallelism` allowing it, its rows split across cores.
    private func run(_ block: inout mien_mbconv, x: Tensor, into output: inout Tensor, geometry g: WindowGeometry) {
        let scratchSize = mien_mbconv_scratch_size(&block)
        let (inImage, outImage) = (g.height * g.width * Int(block.in_channels),
                                   g.outputHeight * g.outputWidth * project.filters)
        let block = block
        x.scalars.withUnsafeBufferPointer { xs in
            output.scalars.withUnsafeMutableBufferPointer { ys in
                let parts = IntraImageParallelism.parts(rows: g.outputHeight, images: g.batch,
                                                        work: outImage * Int(block.expanded))
                if parts > 1 {
                    let (x, y) = (xs.baseAddress!, ys.baseAddress!)
                    IntraImageParallelism.run(parts) { part in
                        var scratch = Self.scratch(scratchSize)
                        var b = block
                        scratch.withUnsafeMutableBufferPointer {
                            mien_mbconv_rows(&b, x, y, Int32(part * g.outputHeight / parts),
                                             Int32((part + 1) * g.outputHeight / parts), $0.baseAddress)
                        }
                    }
                    return
                }
                var b = block
                let pixels = g.outputHeight * g.outputWidth
                if g.batch > 1, pixels < Self.productRows {
                    // Small maps: several images per pass, so that each weight read serves
                    // about `productRows` rows of the 1×1 products instead of one image's few.
                    var group = min(g.batch, max(1, Self.productRows * 2 / pixels))
                    // Bounded memory (16 MB) whatever the model says: a large input with a
                    // large stride also makes a small map.
                    while group > 1, mien_mbconv_images_scratch_size(&b, Int32(group)) > 1 << 22 { group /= 2 }
                    var scratch = Self.scratch(mien_mbconv_images_scratch_size(&b, Int32(group)))
                    scratch.withUnsafeMutableBufferPointer { s in
                        for first in stride(from: 0, to: g.batch, by: group) {
                            let count = min(group, g.batch - first)
                            mien_mbconv_images(&b, xs.baseAddress! + first * inImage, ys.baseAddress! + first * outImage,
                                               Int32(count), s.baseAddress)
                        }
                    }
                    return
                }
                var scratch = Self.scratch(scratchSize)
                scratch.withUnsafeMutableBufferPointer { s in
                    for n in 0..<g.batch {
                        mien_mbconv_rows(&b, xs.baseAddress! + n * inImage, ys.baseAddress! + n * outImage,
                                         0, Int32(g.outputHeight), s.baseAddress)
                    }
                }
            }
        }
    }

    /// The output pixels a band of `mbconv.c` aims at (`mien_mbconv_band_rows`).
    static let productRows = 64

    /// Working memory for one kernel call; not zeroed, since the kernel writes before it reads.
    private static func scratch(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}
