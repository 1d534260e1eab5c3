import XCTest
import MienNN
import MienTestSupport
@testable import MienTraining

/// Adam, AdamW, SGD and RMSprop against Keras 3's optimizers (`optimizer.apply_gradients`),
/// three steps.
final class OptimizerTests: XCTestCase {
    /// The fixture groups and the optimizers they were made with.
    static let cases: [(group: String, make: @Sendable () -> any Optimizer)] = [
        ("adam", { Adam() }),
        ("sgd_momentum", { SGD(learningRate: 0.01, momentum: 0.9) }),
        ("sgd_nesterov", { SGD(learningRate: 0.05, momentum: 0.9, nesterov: true) }),
        ("sgd", { SGD(learningRate: 0.1) }),
        ("rmsprop", { RMSprop() }),
        ("rmsprop_centered_momentum", { RMSprop(learningRate: 0.01, rho: 0.8, momentum: 0.5, centered: true) }),
        ("adamw", { AdamW(learningRate: 0.01, weightDecay: 0.1) }),
    ]

    /// Keras's gradients fed to Mien's optimizer: the weights after each step within 1e-6.
    func testStepsMatchKerasOptimizers() throws {
        for kind in ["sigmoid", "softmax"] {
            let (head, fixture) = try fixtureHead(kind)
            let names = head.parameterNames
            for (group, make) in OptimizerTests.cases {
                var optimizer = make()
                var parameters = try keyed(names) { try fixture.tensor("\(group)/step1/before/\($0)") }
                for step in 1...3 {
                    let gradients = try keyed(names) { try fixture.tensor("\(group)/step\(step)/gradients/\($0)") }
                    try optimizer.step(&parameters, gradients: gradients)
                    for (name, value) in parameters {
                        assertClose(value, try fixture.tensor("\(group)/step\(step)/after/\(name)"),
                                    Tolerance(relative: 1e-6), "\(kind) \(group) step \(step) \(name)")
                    }
                }
                XCTAssertEqual(optimizer.state.iterations, 3)
            }
        }
    }

    /// The whole step — forward, weighted loss, backward, update — three times, against Keras.
    func testHeadTrainStepsMatchKeras() throws {
        for kind in ["sigmoid", "softmax"] {
            for (group, make) in OptimizerTests.cases {
                var (head, fixture) = try fixtureHead(kind)
                var optimizer = make()
                var none = NoRandom()
                for step in 1...3 {
                    let loss = try head.trainStep(features: try fixture.tensor("inputs/0"), labels: try fixture.ints("labels"),
                                                  sampleWeights: try fixture.floats("sample_weights"), loss: head.defaultLoss,
                                                  optimizer: &optimizer, generator: &none)
                    assertClose(loss, try fixture.scalar("\(group)/step\(step)/loss"), relative: 1e-5, "\(kind) \(group) loss \(step)")
                    for (name, value) in head.weights {
                        assertClose(value, try fixture.tensor("\(group)/step\(step)/after/\(name)"),
                                    Tolerance(relative: 1e-5), "\(kind) \(group) step \(step) \(name)")
                    }
                }
            }
        }
    }

    /// Keras's bias correction and epsilon placement, by hand for one scalar:
    /// alpha = lr·sqrt(1 − β2ᵗ)/(1 − β1ᵗ); w −= m·alpha / (sqrt(v) + ε) with uncorrected v.
    func testAdamRuleByHand() {
        var adam = Adam(learningRate: 0.1, epsilon: 0.5)   // a large epsilon shows its placement
        var w = ["w": Tensor(shape: [1], scalars: [1])]
        XCTAssertNoThrow(try adam.step(&w, gradients: ["w": Tensor(shape: [1], scalars: [2])]))
        let m: Float = 0.2, v: Float = 0.004
        let alpha = Float(0.1) * (1 - Float(0.999)).squareRoot() / (1 - Float(0.9))
        XCTAssertEqual(w["w"]!.scalars[0], 1 - m * alpha / (v.squareRoot() + 0.5), accuracy: 1e-6)
        // The paper's form, m̂ / (sqrt(v̂) + ε), gives a clearly different number.
        let paper = 1 - 0.1 * (m / 0.1) / ((v / 0.001).squareRoot() + 0.5)
        XCTAssertGreaterThan(abs(w["w"]!.scalars[0] - paper), 1e-3)
    }

    /// Slots belong to key paths: a weight that gets gradients only from the second step on
    /// (a layer unfrozen later) starts from zero slots, and the others keep theirs. A
    /// gradient for an unknown weight or of another shape is refused and changes nothing.
    func testSlotsAreKeyedByPath() throws {
        var a = Adam()
        var b = Adam()
        var pa = ["x/kernel": Tensor(shape: [2], scalars: [1, 2]), "y/kernel": Tensor(shape: [1], scalars: [3])]
        var pb = ["y/kernel": Tensor(shape: [1], scalars: [3])]
        let g = Tensor(shape: [2], scalars: [0.5, -0.5]), h = Tensor(shape: [1], scalars: [0.25])
        try a.step(&pa, gradients: ["x/kernel": g])
        try b.step(&pb, gradients: ["y/kernel": h])
        try a.step(&pa, gradients: ["x/kernel": g, "y/kernel": h])
        XCTAssertEqual(a.state.slots["momentum"]?.keys.sorted(), ["x/kernel", "y/kernel"])
        // y's first step happened at iteration 2 in `a`, at 1 in `b`: a different bias correction.
        XCTAssertNotEqual(pa["y/kernel"], pb["y/kernel"])
        let before = pa, stateBefore = a.state
        XCTAssertThrowsError(try a.step(&pa, gradients: ["x/kernel": g, "z/kernel": h]))
        XCTAssertThrowsError(try a.step(&pa, gradients: ["x/kernel": h]))
        XCTAssertEqual(pa, before)
        XCTAssertEqual(a.state, stateBefore)
    }

    func keyed(_ names: [String], _ value: (String) throws -> Tensor) rethrows -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: try names.map { ($0, try value($0)) })
    }

    /// The state (JSON round trip) continues exactly like the original optimizer.
    func testStateRoundTripContinuesIdentically() throws {
        for (_, make) in OptimizerTests.cases {
            var a = make()
            var pa = ["d/kernel": Tensor(shape: [2, 2], scalars: [1, -2, 3, 0.5]), "d/bias": Tensor(shape: [2], scalars: [0.1, -0.1])]
            let g1 = ["d/kernel": Tensor(shape: [2, 2], scalars: [0.3, -0.2, 0.1, 0.05]), "d/bias": Tensor(shape: [2], scalars: [1, -1])]
            let g2 = ["d/kernel": Tensor(shape: [2, 2], scalars: [-0.1, 0.4, 0.2, -0.3]), "d/bias": Tensor(shape: [2], scalars: [0.5, 0.25])]
            try a.step(&pa, gradients: g1)
            let data = try JSONEncoder().encode(a.state)
            var b = try makeOptimizer(state: try JSONDecoder().decode(OptimizerState.self, from: data))
            var pb = pa
            try a.step(&pa, gradients: g2)
            try b.step(&pb, gradients: g2)
            XCTAssertEqual(pa, pb)
            XCTAssertEqual(a.state, b.state)
        }
        XCTAssertThrowsError(try Adam(state: SGD().state))
        XCTAssertThrowsError(try makeOptimizer(state: OptimizerState(kind: "rmsprop", hyperparameters: [:])))
        XCTAssertThrowsError(try makeOptimizer(state: OptimizerState(kind: "adagrad", hyperparameters: [:])))
    }
}
