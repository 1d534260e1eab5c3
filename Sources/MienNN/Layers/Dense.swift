/// Keras's `Dense`: `activation(x · kernel + bias)` over the last axis of any-rank input.
public struct Dense: KernelAndBiasLayer {
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
        var y = Tensor(uninitialized: Array(x.shape.dropLast()) + [units])
        x.scalars.withUnsafeBufferPointer { a in
            kernel.scalars.withUnsafeBufferPointer { w in
                y.scalars.withUnsafeMutableBufferPointer { out in
                    withOptionalPointer(bias?.scalars) { b in
                        gemmBiasActivate(a.baseAddress!, w.baseAddress!, out.baseAddress!, m: rows, n: units,
                                         k: kernel.shape[0], bias: b, activation: activation)
                    }
                }
            }
        }
        return y
    }
}

// MARK: - Training

extension Dense {
    /// The forward pass of training: the pre-activation `z = x · kernel + bias` and the
    /// output `activation(z)` (the same tensor when the activation is linear). The output
    /// equals `forward`'s.
    public func forwardTraining(_ x: Tensor) throws -> (preActivation: Tensor, output: Tensor) {
        var linear = self
        linear.activation = .linear
        let z = try linear.forward([x])
        if activation == .linear { return (z, z) }
        var y = z
        activation.apply(&y.scalars, lastAxis: units)
        return (z, y)
    }

    /// The gradients of a forward pass `output = activation(input · kernel + bias)`, given the
    /// gradient with respect to `output`: first through the activation (see
    /// `Activation.backward`; softmax's full Jacobian-vector product), giving `dZ`, then
    /// through the matrix product: `dX = dZ · kernelᵀ`, `dKernel = Xᵀ · dZ`, `dBias = Σ_rows dZ`.
    /// `input` is `[..., inputUnits]` (rows are every axis but the last). Activations that
    /// need their input (swish, GELU, ...) recompute `z` from `input`.
    public func backward(input: Tensor, output: Tensor, outputGradient: Tensor) throws
        -> (input: Tensor, kernel: Tensor, bias: Tensor?) {
        guard output.shape == outputGradient.shape else {
            throw LayerError(layer: name, "backward: output \(output.shape) and gradient \(outputGradient.shape) differ")
        }
        let z = activation.backwardNeedsInput ? try forwardTraining(input).preActivation : nil
        let dz = activation.backward(input: z, output: output, outputGradient: outputGradient)
        let g = try backward(input: input, preActivationGradient: dz, inputGradient: true)
        return (g.input!, g.kernel, g.bias)
    }

    /// The matrix-product half of `backward`: from `dZ`, the gradient with respect to the
    /// pre-activation `z = input · kernel + bias`. With `inputGradient: false` the (often
    /// largest) product `dZ · kernelᵀ` is skipped and `input` is nil: the first layer on
    /// frozen features needs no input gradient.
    public func backward(input: Tensor, preActivationGradient dz: Tensor, inputGradient: Bool = true) throws
        -> (input: Tensor?, kernel: Tensor, bias: Tensor?) {
        let inputUnits = kernel.shape[0]
        guard input.rank >= 2, input.shape.last! == inputUnits else {
            throw LayerError(layer: name, "backward: got input of shape \(input.shape), expected last axis \(inputUnits)")
        }
        guard dz.shape == Array(input.shape.dropLast()) + [units] else {
            throw LayerError(layer: name, "backward: gradient of shape \(dz.shape) does not match input \(input.shape) and \(units) units")
        }
        let rows = input.count / max(inputUnits, 1)
        var dKernel = Tensor(zeros: kernel.shape)
        var dInput: Tensor? = inputGradient ? Tensor(zeros: input.shape) : nil
        var dBias: Tensor? = bias.map { Tensor(zeros: $0.shape) }
        guard rows > 0, inputUnits > 0, units > 0 else { return (dInput, dKernel, dBias) }
        input.scalars.withUnsafeBufferPointer { x in
            dz.scalars.withUnsafeBufferPointer { d in
                // dKernel[in × units] = Xᵀ[in × rows] · dZ[rows × units]
                dKernel.scalars.withUnsafeMutableBufferPointer { dw in
                    gemm(x.baseAddress!, d.baseAddress!, dw.baseAddress!,
                         m: inputUnits, n: units, k: rows, transposeA: true)
                }
                if dInput != nil {
                    // dX[rows × in] = dZ[rows × units] · kernelᵀ[units × in]
                    kernel.scalars.withUnsafeBufferPointer { w in
                        dInput!.scalars.withUnsafeMutableBufferPointer { dx in
                            gemm(d.baseAddress!, w.baseAddress!, dx.baseAddress!,
                                 m: rows, n: inputUnits, k: units, transposeB: true)
                        }
                    }
                }
                if dBias != nil {
                    dBias!.scalars.withUnsafeMutableBufferPointer { db in
                        columnSums(d, channels: units, into: db)
                    }
                }
            }
        }
        return (dInput, dKernel, dBias)
    }
}

extension Dense {
    public var canTrain: Bool { true }

    /// Tape: the input, then what the activation's backward needs.
    public func forwardTraining(_ inputs: [Tensor], context: TrainingContext) throws -> TrainingForward {
        let x = try single(inputs)
        var linear = self
        linear.activation = .linear
        let (y, keep) = activation.trainingOutput(try linear.forward([x]), lastAxis: units)
        return TrainingForward(y, tape: Tape([x] + keep))
    }

    public func backward(_ outputGradient: Tensor, tape: Tape, inputs: [Bool], weights: Bool) throws -> LayerGradients {
        let x = try tape.tensor(0, layer: name)
        let dz = try activation.preActivationGradient(outputGradient, tape: tape, offset: 1, layer: name)
        let g = try backward(input: x, preActivationGradient: dz, inputGradient: inputs.first ?? false)
        var result = LayerGradients(inputs: [g.input])
        if weights {
            result.weights["kernel"] = g.kernel
            if let bias = g.bias { result.weights["bias"] = bias }
        }
        return result
    }
}

extension Dense {
    public func flopsPerImage(inputs: [Shape], output: Shape) throws -> Int { 2 * positions(of: output) * kernel.count }
}
