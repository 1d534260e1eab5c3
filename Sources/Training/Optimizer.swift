import Foundation
import NN

/// An optimizer: updates parameters in place from their gradients, as Keras 3's
/// `optimizer.apply_gradients` does. `parameters` and `gradients` are parallel and keep
/// their order and shapes from step to step (the slots are positional).
public protocol Optimizer: Sendable {
    /// Keras's name of the optimizer: `adam`, `sgd`.
    static var kind: String { get }
    /// Applies one step (Keras's `iterations` goes up by one).
    mutating func step(_ parameters: inout [Tensor], gradients: [Tensor])
    /// Everything needed to continue identically: hyperparameters, step count and slots.
    var state: OptimizerState { get }
    /// Restores an optimizer from `state`; throws if it belongs to another optimizer.
    init(state: OptimizerState) throws
}

/// The Codable state of an optimizer. Hyperparameters are kept as Double, the way Keras
/// keeps Python floats, so that `1 − beta1` rounds as in Keras.
public struct OptimizerState: Codable, Sendable, Equatable {
    /// `Optimizer.kind`: `adam`, `sgd`.
    public var kind: String
    public var hyperparameters: [String: Double]
    /// Keras's `optimizer.iterations`: the number of steps applied.
    public var iterations: Int
    /// Per-slot (`momentum`, `velocity`) values, one array per parameter, in parameter order;
    /// empty before the first step.
    public var slots: [String: [[Float]]]

    public init(kind: String, hyperparameters: [String: Double], iterations: Int = 0, slots: [String: [[Float]]] = [:]) {
        self.kind = kind
        self.hyperparameters = hyperparameters
        self.iterations = iterations
        self.slots = slots
    }

    func value(_ key: String) throws -> Double {
        guard let v = hyperparameters[key] else { throw TrainingError.invalidState("optimizer state lacks '\(key)'") }
        return v
    }

    func check(kind expected: String) throws {
        guard kind == expected else {
            throw TrainingError.invalidState("optimizer state is for '\(kind)', not '\(expected)'")
        }
    }
}

/// Restores any built-in optimizer from its state.
public func makeOptimizer(state: OptimizerState) throws -> any Optimizer {
    switch state.kind {
    case Adam.kind: return try Adam(state: state)
    case SGD.kind: return try SGD(state: state)
    default: throw TrainingError.invalidState("unknown optimizer '\(state.kind)'")
    }
}

private func checkParallel(_ parameters: [Tensor], _ gradients: [Tensor]) {
    precondition(parameters.count == gradients.count,
                 "optimizer: \(parameters.count) parameters, \(gradients.count) gradients")
    for (p, g) in zip(parameters, gradients) {
        precondition(p.shape == g.shape, "optimizer: parameter \(p.shape) and gradient \(g.shape) differ")
    }
}

private func zeroSlots(_ parameters: [Tensor]) -> [[Float]] {
    parameters.map { [Float](repeating: 0, count: $0.count) }
}

/// Keras 3's `Adam` (defaults `learning_rate=0.001, beta_1=0.9, beta_2=0.999,
/// epsilon=1e-7`, no amsgrad), in float32 and in Keras's order of operations. At step
/// `t = iterations + 1`:
///
///     alpha = lr · sqrt(1 − beta2^t) / (1 − beta1^t)
///     m += (g − m) · (1 − beta1)
///     v += (g² − v) · (1 − beta2)
///     w −= m · alpha / (sqrt(v) + epsilon)
///
/// The bias correction is folded into the step size `alpha`, and epsilon is added to
/// `sqrt(v)` *uncorrected* — not `m̂ / (sqrt(v̂) + ε)` of the Adam paper, which puts epsilon
/// after the correction (the two differ by a factor `sqrt(1 − beta2^t)` on epsilon).
public struct Adam: Optimizer {
    public static let kind = "adam"
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public private(set) var iterations: Int = 0
    private var m: [[Float]] = []
    private var v: [[Float]] = []

    public init(learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-7) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public mutating func step(_ parameters: inout [Tensor], gradients: [Tensor]) {
        checkParallel(parameters, gradients)
        if m.isEmpty {
            m = zeroSlots(parameters)
            v = zeroSlots(parameters)
        }
        precondition(m.count == parameters.count, "Adam: state for \(m.count) parameters, got \(parameters.count)")
        let lr = Float(learningRate)
        let t = Float(iterations + 1)
        let b1Power = Foundation.pow(Float(beta1), t)
        let b2Power = Foundation.pow(Float(beta2), t)
        let alpha = lr * (1 - b2Power).squareRoot() / (1 - b1Power)
        let oneMinusB1 = Float(1 - beta1), oneMinusB2 = Float(1 - beta2)
        let eps = Float(epsilon)
        for k in parameters.indices {
            gradients[k].scalars.withUnsafeBufferPointer { g in
                m[k].withUnsafeMutableBufferPointer { m in
                    v[k].withUnsafeMutableBufferPointer { v in
                        parameters[k].scalars.withUnsafeMutableBufferPointer { w in
                            precondition(m.count == w.count, "Adam: slot size differs from parameter \(k)")
                            for i in 0..<w.count {
                                let gi = g[i]
                                // The moments of a unit that stopped getting gradients decay
                                // into subnormals within a few epochs; flushed (see `flushed`).
                                m[i] = flushed(m[i] + (gi - m[i]) * oneMinusB1)
                                v[i] = flushed(v[i] + (gi * gi - v[i]) * oneMinusB2)
                                w[i] -= m[i] * alpha / (v[i].squareRoot() + eps)
                            }
                        }
                    }
                }
            }
        }
        iterations += 1
    }

    public var state: OptimizerState {
        OptimizerState(kind: Adam.kind,
                       hyperparameters: ["learning_rate": learningRate, "beta_1": beta1, "beta_2": beta2, "epsilon": epsilon],
                       iterations: iterations,
                       slots: m.isEmpty ? [:] : ["momentum": m, "velocity": v])
    }

    public init(state: OptimizerState) throws {
        try state.check(kind: Adam.kind)
        self.init(learningRate: try state.value("learning_rate"), beta1: try state.value("beta_1"),
                  beta2: try state.value("beta_2"), epsilon: try state.value("epsilon"))
        iterations = state.iterations
        m = state.slots["momentum"] ?? []
        v = state.slots["velocity"] ?? []
        guard m.count == v.count, zip(m, v).allSatisfy({ $0.count == $1.count }) else {
            throw TrainingError.invalidState("Adam state: momentum and velocity differ in size")
        }
    }
}

/// Keras 3's `SGD` (defaults `learning_rate=0.01, momentum=0, nesterov=False`), in float32:
///
///     momentum == 0:  w −= g · lr
///     otherwise:      m = m · momentum − g · lr
///                     w += m                            (nesterov: w += m · momentum − g · lr)
public struct SGD: Optimizer {
    public static let kind = "sgd"
    public var learningRate: Double
    public var momentum: Double
    public var nesterov: Bool
    public private(set) var iterations: Int = 0
    private var velocity: [[Float]] = []

    public init(learningRate: Double = 0.01, momentum: Double = 0, nesterov: Bool = false) {
        precondition(momentum >= 0 && momentum <= 1, "SGD: momentum must be in [0, 1]")
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public mutating func step(_ parameters: inout [Tensor], gradients: [Tensor]) {
        checkParallel(parameters, gradients)
        let lr = Float(learningRate)
        if momentum == 0 {
            for k in parameters.indices {
                gradients[k].scalars.withUnsafeBufferPointer { g in
                    parameters[k].scalars.withUnsafeMutableBufferPointer { w in
                        for i in 0..<w.count { w[i] -= g[i] * lr }
                    }
                }
            }
            iterations += 1
            return
        }
        if velocity.isEmpty { velocity = zeroSlots(parameters) }
        precondition(velocity.count == parameters.count, "SGD: state for \(velocity.count) parameters, got \(parameters.count)")
        let mu = Float(momentum)
        let nesterov = self.nesterov
        for k in parameters.indices {
            gradients[k].scalars.withUnsafeBufferPointer { g in
                velocity[k].withUnsafeMutableBufferPointer { m in
                    parameters[k].scalars.withUnsafeMutableBufferPointer { w in
                        precondition(m.count == w.count, "SGD: slot size differs from parameter \(k)")
                        for i in 0..<w.count {
                            m[i] = flushed(m[i] * mu - g[i] * lr)
                            w[i] += nesterov ? m[i] * mu - g[i] * lr : m[i]
                        }
                    }
                }
            }
        }
        iterations += 1
    }

    public var state: OptimizerState {
        OptimizerState(kind: SGD.kind,
                       hyperparameters: ["learning_rate": learningRate, "momentum": momentum, "nesterov": nesterov ? 1 : 0],
                       iterations: iterations,
                       slots: velocity.isEmpty ? [:] : ["momentum": velocity])
    }

    public init(state: OptimizerState) throws {
        try state.check(kind: SGD.kind)
        self.init(learningRate: try state.value("learning_rate"), momentum: try state.value("momentum"),
                  nesterov: (state.hyperparameters["nesterov"] ?? 0) != 0)
        iterations = state.iterations
        velocity = state.slots["momentum"] ?? []
    }
}
