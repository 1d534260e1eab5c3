/// Keras's `Dense`: `activation(x · kernel + bias)` over the last axis of any-rank input.
public struct Dense: Layer {
    public var name: String
    public var kerasClass: String { "Dense" }
    public var trainable: Bool = true
    public var activation: Activation
    /// `[inputUnits, units]`.
    public var kernel: Tensor
    public var bias: Tensor?

    public init(name: String, inputUnits: Int, units: Int, useBias: Bool = true,
                activation: Activation = .linear) {
        self.name = name
        self.activation = activation
        kernel = Tensor(zeros: [inputUnits, units])
        bias = useBias ? Tensor(zeros: [units]) : nil
    }

    public var units: Int { kernel.shape[1] }

    public var parameters: [Parameter] {
        [Parameter("kernel", kernel)] + (bias.map { [Parameter("bias", $0)] } ?? [])
    }

    public mutating func setParameter(_ name: String, to value: Tensor) throws {
        switch (name, bias) {
        case ("kernel", _): kernel = try checked(value, replacing: kernel, as: name)
        case ("bias", let b?): bias = try checked(value, replacing: b, as: name)
        default: throw LayerError(layer: self.name, "Dense has no weight named '\(name)'")
        }
    }

    public func outputShape(for inputShapes: [Shape]) throws -> Shape {
        let shape = try single(inputShapes)
        guard shape.count >= 2, shape.last! == kernel.shape[0] else {
            throw LayerError(layer: name, "expects last axis \(kernel.shape[0]), got \(shape.kerasDescription)")
        }
        return Array(shape.dropLast()) + [units]
    }

    public func forward(_ inputs: [Tensor]) throws -> Tensor {
        let x = try single(inputs)
        guard x.rank >= 2, x.shape.last! == kernel.shape[0] else {
            throw LayerError(layer: name, "got input of shape \(x.shape), expected last axis \(kernel.shape[0])")
        }
        let rows = x.count / kernel.shape[0]
        var y = Tensor(zeros: Array(x.shape.dropLast()) + [units])
        x.scalars.withUnsafeBufferPointer { a in
            kernel.scalars.withUnsafeBufferPointer { w in
                y.scalars.withUnsafeMutableBufferPointer { out in
                    gemm(a.baseAddress!, w.baseAddress!, out.baseAddress!, m: rows, n: units, k: kernel.shape[0])
                }
            }
        }
        addBiasAndActivate(&y, bias: bias, activation: activation)
        return y
    }
}
