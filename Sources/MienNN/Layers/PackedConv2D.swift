/// A `Conv2D` run at inference on weights packed once (see `pointwise.c`), a clamp
/// activation (linear, ReLU, ReLU6) applied in registers and another (MTCNN's softmax)
/// after: a 1×1, stride-1 one reads the NHWC pixels in place, where `cblas_sgemm` packed
/// both operands again on every call and a second pass added the bias and the activation
/// (P-Net's 2-filter softmax layer ran at 4.6 GFLOP/s); a larger window runs im2col into
/// that product, where sgemm's copies of the columns and the weights were a third of its
/// time on MTCNN's R-Net and O-Net (28–64 channels, 2×2 and 3×3).
///
/// Not a Keras layer: `optimizedForInference(forRunning: true)` makes it from each such
/// Conv2D left outside an `InvertedResidualBlock` (EfficientNet's `top_conv`, MobileNet's
/// pointwise convolutions, a head's 1×1 layers, MTCNN's convolutions), except those of few
/// input channels that the direct kernel computes (`convolvesDirectly`).
public struct PackedConv2D: InferenceForm {
    public var name: String
    public var kerasClass: String { "PackedConv2D" }
    public var trainable: Bool = false
    public let conv: Conv2D
    private let packed: [Float]

    /// Nil unless `conv` is either 1×1, stride 1 without folded padding, or a window that
    /// `convolve` runs by im2col and a product.
    public init?(_ conv: Conv2D) {
        guard Self.fits(conv) else { return nil }
        name = conv.name
        self.conv = conv
        packed = conv.packedForProduct()
    }

    static func fits(_ conv: Conv2D) -> Bool {
        isPointwise(conv) || !convolvesDirectly(channels: conv.kernel.shape[2], filters: conv.filters)
    }

    static func isPointwise(_ conv: Conv2D) -> Bool {
        conv.kernelSize == (1, 1) && conv.strides == (1, 1) && !conv.hasInputPadding
    }

    public var original: Conv2D { conv }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        guard Self.isPointwise(conv) else {
            return convolve(x, kernel: conv.kernel, geometry: try conv.geometry(of: x), bias: conv.bias,
                            activation: conv.activation, packed: packed)
        }
        let (k, n) = (conv.kernel.shape[2], conv.filters)
        guard x.rank == 4, x.shape[3] == k else {
            throw LayerError(layer: name, "got input of shape \(x.shape), expected [batch, height, width, \(k)]")
        }
        var output = Tensor(uninitialized: [x.shape[0], x.shape[1], x.shape[2], n])
        let pixels = x.shape[0] * x.shape[1] * x.shape[2]
        guard output.count > 0 else { return output }
        // One image's rows split across cores, as InvertedResidualBlock does.
        let parts = IntraImageParallelism.parts(rows: x.shape[1], images: x.shape[0], work: pixels * k * n)
        x.scalars.withUnsafeBufferPointer { xs in
            output.scalars.withUnsafeMutableBufferPointer { ys in
                packed.withUnsafeBufferPointer { w in
                    let (x, y, w) = (xs.baseAddress!, ys.baseAddress!, w.baseAddress!)
                    func product(_ first: Int, _ end: Int) {
                        packedProduct(x + first * k, w, y + first * n, rows: end - first, k: k, n: n, activation: conv.activation)
                    }
                    if parts > 1 {
                        IntraImageParallelism.run(parts) { part in product(part * pixels / parts, (part + 1) * pixels / parts) }
                    } else {
                        product(0, pixels)
                    }
                }
            }
        }
        return output
    }
}

extension Conv2D: PackableForInference {
    public func packedForInference() -> (any Layer)? { PackedConv2D(self) }
}
