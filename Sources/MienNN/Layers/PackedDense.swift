/// A `Dense` run at inference on weights packed once (see `pointwise.c`), with the bias and
/// a clamp activation (linear, ReLU, ReLU6) applied in registers, another (softmax) after.
/// On the few rows of a frame's faces (MTCNN's R-Net and O-Net, a classifier's head),
/// `cblas_sgemm` copied the whole weight matrix on every call: 2.4% of a frame's CPU time.
///
/// Not a Keras layer: `optimizedForInference(forRunning: true)` makes it from each Dense.
public struct PackedDense: InferenceForm {
    public var name: String
    public var kerasClass: String { "PackedDense" }
    public var trainable: Bool = false
    public let dense: Dense
    private let packed: [Float]

    public init(_ dense: Dense) {
        name = dense.name
        self.dense = dense
        packed = dense.packedForProduct()
    }

    public var original: Dense { dense }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        let (k, n) = (dense.kernel.shape[0], dense.units)
        guard x.rank >= 2, x.shape.last! == k else {
            throw LayerError(layer: name, "got input of shape \(x.shape), expected last axis \(k)")
        }
        var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
        guard y.count > 0 else { return y }
        let rows = y.count / n
        x.scalars.withUnsafeBufferPointer { a in
            y.scalars.withUnsafeMutableBufferPointer { out in
                packed.withUnsafeBufferPointer { w in
                    packedProduct(a.baseAddress!, w.baseAddress!, out.baseAddress!, rows: rows, k: k, n: n,
                                  activation: dense.activation)
                }
            }
        }
        return y
    }
}

extension Dense: PackableForInference {
    public func packedForInference() -> (any Layer)? { PackedDense(self) }
}
