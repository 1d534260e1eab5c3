import Foundation
import MienNN

/// An optimizer: updates weights in place from their gradients, as Keras 3's
/// `optimizer.apply_gradients` does. Weights, gradients and the optimizer's slots are keyed
/// by the weight's key path (`block6a_project_conv/kernel`), so unfreezing more layers or
/// resuming with another set of trainable weights keeps each weight's own state.
public protocol Optimizer: Sendable {
    /// Keras's name of the optimizer: `adam`, `sgd`, `rmsprop`, `adamw`.
    static var kind: String { get }
    /// Applies one step (Keras's `iterations` goes up by one) to every weight in `gradients`.
    /// Throws, changing nothing, when a gradient names no weight or has another shape.
    mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor]) throws
    /// Everything needed to continue identically: hyperparameters, step count and slots.
    var state: OptimizerState { get }
    /// Restores an optimizer from `state`; throws if it belongs to another optimizer.
    init(state: OptimizerState) throws
}

/// The Codable state of an optimizer. Hyperparameters are kept as Double, the way Keras
/// keeps Python floats, so that `1 − beta1` rounds as in Keras.
public struct OptimizerState: Codable, Sendable, Equatable {
    /// `Optimizer.kind`.
    public var kind: String
    public var hyperparameters: [String: Double]
    /// Keras's `optimizer.iterations`: the number of steps applied.
    public var iterations: Int
    /// Slot name (`momentum`, `velocity`, ...) → weight key path → values; a weight has
    /// slots once it has had a gradient.
    public var slots: [String: [String: [Float]]]

    public init(kind: String, hyperparameters: [String: Double], iterations: Int = 0,
                slots: [String: [String: [Float]]] = [:]) {
        self.kind = kind
        self.hyperparameters = hyperparameters
        self.iterations = iterations
        self.slots = slots
    }

    func value(_ key: String) throws -> Double {
        guard let v = hyperparameters[key] else { throw TrainingError.invalidState("optimizer state lacks '\(key)'") }
        return v
    }

    func check(kind expected: String, slots names: [String]) throws {
        guard kind == expected else {
            throw TrainingError.invalidState("optimizer state is for '\(kind)', not '\(expected)'")
        }
        guard iterations >= 0 else { throw TrainingError.invalidState("optimizer state: negative iterations") }
        if let unknown = slots.keys.sorted().first(where: { !names.contains($0) }) {
            throw TrainingError.invalidState("optimizer state: '\(expected)' has no slot '\(unknown)'")
        }
    }
}

/// Restores any built-in optimizer from its state.
public func makeOptimizer(state: OptimizerState) throws -> any Optimizer {
    switch state.kind {
    case Adam.kind: return try Adam(state: state)
    case AdamW.kind: return try AdamW(state: state)
    case SGD.kind: return try SGD(state: state)
    case RMSprop.kind: return try RMSprop(state: state)
    default: throw TrainingError.invalidState("unknown optimizer '\(state.kind)'")
    }
}

/// The per-weight slots of an optimizer and the one loop that updates weights with them.
struct Slots: Sendable, Equatable {
    var names: [String]
    var values: [String: [String: [Float]]] = [:]

    init(_ names: [String]) { self.names = names }

    init(_ names: [String], state: OptimizerState) throws {
        self.names = names
        values = state.slots
        // Every slot of a weight has the weight's size.
        var sizes: [String: Int] = [:]
        for (name, byKey) in state.slots {
            for (key, v) in byKey {
                if let size = sizes[key], size != v.count {
                    throw TrainingError.invalidState("optimizer state: slots of '\(key)' differ in size ('\(name)')")
                }
                sizes[key] = v.count
            }
        }
    }

    /// Checks every gradient against its weight (and existing slots) first, so that a bad
    /// one changes nothing; then calls `update(w, g, slots)` on each weight's buffers, in
    /// key order, the slots in `names` order (zero before the first step).
    mutating func update(_ parameters: inout [String: Tensor], _ gradients: [String: Tensor],
                         _ update: (UnsafeMutableBufferPointer<Float>, UnsafeBufferPointer<Float>,
                                    [UnsafeMutableBufferPointer<Float>]) -> Void) throws {
        for (key, g) in gradients {
            guard let w = parameters[key] else {
                throw TrainingError.invalidState("optimizer: a gradient for '\(key)', which is no trainable weight")
            }
            guard w.shape == g.shape else {
                throw TrainingError.invalidState("optimizer: gradient of '\(key)' has shape \(g.shape), the weight \(w.shape)")
            }
            for name in names {
                if let slot = values[name]?[key], slot.count != w.count {
                    throw TrainingError.invalidState("optimizer: slot '\(name)' of '\(key)' holds \(slot.count) values, the weight \(w.count)")
                }
            }
        }
        for key in gradients.keys.sorted() {
            let g = gradients[key]!
            var slots = names.map { values[$0]?.removeValue(forKey: key) ?? [Float](repeating: 0, count: g.count) }
            var w = parameters.removeValue(forKey: key)!
            w.scalars.withUnsafeMutableBufferPointer { wb in
                g.scalars.withUnsafeBufferPointer { gb in
                    withMutableBuffers(&slots) { update(wb, gb, $0) }
                }
            }
            parameters[key] = w
            for (name, slot) in zip(names, slots) { values[name, default: [:]][key] = slot }
        }
    }

    var state: [String: [String: [Float]]] { values }
}

/// Calls `body` with mutable buffers of every array, recursively.
private func withMutableBuffers(_ arrays: inout [[Float]], from index: Int = 0,
                                collected: [UnsafeMutableBufferPointer<Float>] = [],
                                _ body: ([UnsafeMutableBufferPointer<Float>]) -> Void) {
    guard index < arrays.count else { return body(collected) }
    var array = arrays[index]
    arrays[index] = []
    array.withUnsafeMutableBufferPointer { b in
        withMutableBuffers(&arrays, from: index + 1, collected: collected + [b], body)
    }
    arrays[index] = array
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
    private var slots = Slots(["momentum", "velocity"])

    public init(learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-7) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor]) throws {
        try Adam.step(&parameters, gradients, &slots, iterations: iterations, learningRate: learningRate,
                      beta1: beta1, beta2: beta2, epsilon: epsilon)
        iterations += 1
    }

    /// Adam's update, shared with AdamW.
    static func step(_ parameters: inout [String: Tensor], _ gradients: [String: Tensor], _ slots: inout Slots,
                     iterations: Int, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double) throws {
        let lr = Float(learningRate)
        let t = Float(iterations + 1)
        let b1Power = Foundation.pow(Float(beta1), t)
        let b2Power = Foundation.pow(Float(beta2), t)
        let alpha = lr * (1 - b2Power).squareRoot() / (1 - b1Power)
        let oneMinusB1 = Float(1 - beta1), oneMinusB2 = Float(1 - beta2)
        let eps = Float(epsilon)
        try slots.update(&parameters, gradients) { w, g, s in
            let (m, v) = (s[0], s[1])
            for i in 0..<w.count {
                let gi = g[i]
                // The moments of a unit that stopped getting gradients decay into
                // subnormals within a few epochs; flushed (see `flushed`).
                m[i] = flushed(m[i] + (gi - m[i]) * oneMinusB1)
                v[i] = flushed(v[i] + (gi * gi - v[i]) * oneMinusB2)
                w[i] -= m[i] * alpha / (v[i].squareRoot() + eps)
            }
        }
    }

    public var state: OptimizerState {
        OptimizerState(kind: Adam.kind,
                       hyperparameters: ["learning_rate": learningRate, "beta_1": beta1, "beta_2": beta2, "epsilon": epsilon],
                       iterations: iterations, slots: slots.state)
    }

    public init(state: OptimizerState) throws {
        try state.check(kind: Adam.kind, slots: ["momentum", "velocity"])
        self.init(learningRate: try state.value("learning_rate"), beta1: try state.value("beta_1"),
                  beta2: try state.value("beta_2"), epsilon: try state.value("epsilon"))
        iterations = state.iterations
        slots = try Slots(["momentum", "velocity"], state: state)
    }
}

/// Keras 3's `AdamW` (defaults `learning_rate=0.001, weight_decay=0.004`, Adam's betas and
/// epsilon): first the decoupled weight decay `w −= w · weight_decay · lr` on every weight
/// with a gradient, then Adam's step.
public struct AdamW: Optimizer {
    public static let kind = "adamw"
    public var learningRate: Double
    public var weightDecay: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public private(set) var iterations: Int = 0
    private var slots = Slots(["momentum", "velocity"])

    public init(learningRate: Double = 0.001, weightDecay: Double = 0.004, beta1: Double = 0.9,
                beta2: Double = 0.999, epsilon: Double = 1e-7) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor]) throws {
        var decayed = parameters
        let factor = Float(weightDecay) * Float(learningRate)
        for key in gradients.keys {
            guard var w = decayed[key] else { continue }   // Adam.step refuses it below
            w.scalars.withUnsafeMutableBufferPointer { b in
                for i in 0..<b.count { b[i] -= b[i] * factor }
            }
            decayed[key] = w
        }
        try Adam.step(&decayed, gradients, &slots, iterations: iterations, learningRate: learningRate,
                      beta1: beta1, beta2: beta2, epsilon: epsilon)
        parameters = decayed
        iterations += 1
    }

    public var state: OptimizerState {
        OptimizerState(kind: AdamW.kind,
                       hyperparameters: ["learning_rate": learningRate, "weight_decay": weightDecay, "beta_1": beta1,
                                         "beta_2": beta2, "epsilon": epsilon],
                       iterations: iterations, slots: slots.state)
    }

    public init(state: OptimizerState) throws {
        try state.check(kind: AdamW.kind, slots: ["momentum", "velocity"])
        self.init(learningRate: try state.value("learning_rate"), weightDecay: try state.value("weight_decay"),
                  beta1: try state.value("beta_1"), beta2: try state.value("beta_2"), epsilon: try state.value("epsilon"))
        iterations = state.iterations
        slots = try Slots(["momentum", "velocity"], state: state)
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
    private var slots = Slots(["momentum"])

    public init(learningRate: Double = 0.01, momentum: Double = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor]) throws {
        guard momentum >= 0, momentum <= 1 else { throw TrainingError.invalidOptions("SGD momentum must be in [0, 1]") }
        let lr = Float(learningRate)
        let mu = Float(momentum)
        let nesterov = self.nesterov
        if momentum == 0 {
            var plain = Slots([])
            try plain.update(&parameters, gradients) { w, g, _ in
                for i in 0..<w.count { w[i] -= g[i] * lr }
            }
        } else {
            try slots.update(&parameters, gradients) { w, g, s in
                let m = s[0]
                for i in 0..<w.count {
                    m[i] = flushed(m[i] * mu - g[i] * lr)
                    w[i] += nesterov ? m[i] * mu - g[i] * lr : m[i]
                }
            }
        }
        iterations += 1
    }

    public var state: OptimizerState {
        OptimizerState(kind: SGD.kind,
                       hyperparameters: ["learning_rate": learningRate, "momentum": momentum, "nesterov": nesterov ? 1 : 0],
                       iterations: iterations, slots: slots.state)
    }

    public init(state: OptimizerState) throws {
        try state.check(kind: SGD.kind, slots: ["momentum"])
        self.init(learningRate: try state.value("learning_rate"), momentum: try state.value("momentum"),
                  nesterov: (state.hyperparameters["nesterov"] ?? 0) != 0)
        iterations = state.iterations
        slots = try Slots(["momentum"], state: state)
    }
}

/// Keras 3's `RMSprop` (defaults `learning_rate=0.001, rho=0.9, momentum=0, epsilon=1e-7,
/// centered=False`), in float32 and Keras's order:
///
///     v = rho · v + (1 − rho) · g²
///     centered:  a = rho · a + (1 − rho) · g;   d = v − a² + epsilon
///     otherwise: d = v + epsilon
///     increment = lr · g / sqrt(d)
///     momentum > 0: m = momentum · m + increment; w −= m    otherwise: w −= increment
///
/// Epsilon is inside the square root, unlike Adam's.
public struct RMSprop: Optimizer {
    public static let kind = "rmsprop"
    public var learningRate: Double
    public var rho: Double
    public var momentum: Double
    public var epsilon: Double
    public var centered: Bool
    public private(set) var iterations: Int = 0
    private var slots: Slots

    public init(learningRate: Double = 0.001, rho: Double = 0.9, momentum: Double = 0, epsilon: Double = 1e-7,
                centered: Bool = false) {
        self.learningRate = learningRate
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
        slots = Slots(RMSprop.slotNames(centered: centered, momentum: momentum))
    }

    /// Only the slots the configuration uses (each is as large as the weights).
    static func slotNames(centered: Bool, momentum: Double) -> [String] {
        ["velocity"] + (centered ? ["average_gradient"] : []) + (momentum > 0 ? ["momentum"] : [])
    }

    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor]) throws {
        let (lr, rho, mu, eps) = (Float(learningRate), Float(rho), Float(momentum), Float(epsilon))
        let centered = self.centered
        try slots.update(&parameters, gradients) { w, g, s in
            let v = s[0]
            let a = centered ? s[1] : s[0]            // unused unless centered
            let m = mu > 0 ? s[s.count - 1] : s[0]    // unused unless momentum > 0
            for i in 0..<w.count {
                let gi = g[i]
                v[i] = flushed(rho * v[i] + (1 - rho) * gi * gi)
                let denominator: Float
                if centered {
                    a[i] = flushed(rho * a[i] + (1 - rho) * gi)
                    denominator = v[i] - a[i] * a[i] + eps
                } else {
                    denominator = v[i] + eps
                }
                let increment = lr * gi / denominator.squareRoot()
                if mu > 0 {
                    m[i] = flushed(mu * m[i] + increment)
                    w[i] -= m[i]
                } else {
                    w[i] -= increment
                }
            }
        }
        iterations += 1
    }

    public var state: OptimizerState {
        OptimizerState(kind: RMSprop.kind,
                       hyperparameters: ["learning_rate": learningRate, "rho": rho, "momentum": momentum,
                                         "epsilon": epsilon, "centered": centered ? 1 : 0],
                       iterations: iterations, slots: slots.state)
    }

    public init(state: OptimizerState) throws {
        let (momentum, centered) = (try state.value("momentum"), (state.hyperparameters["centered"] ?? 0) != 0)
        let names = RMSprop.slotNames(centered: centered, momentum: momentum)
        try state.check(kind: RMSprop.kind, slots: names)
        self.init(learningRate: try state.value("learning_rate"), rho: try state.value("rho"),
                  momentum: momentum, epsilon: try state.value("epsilon"), centered: centered)
        iterations = state.iterations
        slots = try Slots(names, state: state)
    }
}
