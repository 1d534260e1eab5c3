import Foundation
import MienHDF5
import MienKeras
import MienNN
import MienTestSupport
import XCTest

/// Every layer's training forward and backward against Keras's `tf.GradientTape`
/// (`tools/make_gradient_fixtures.py`, Tests/Fixtures/gradients): the output, the input's
/// gradient and every weight's gradient of `sum(output · upstream)`, and the moving
/// statistics a training call leaves. Dropout masks are Mien's own, which the script draws
/// with a copy of `SeededGenerator`, so the comparison is exact up to float rounding.
///
/// Tolerance: 1e-4 of each tensor's largest magnitude (float32 sums in another order;
/// Keras's convolution gradients come from other kernels).
final class GradientTests: XCTestCase {
    let tolerance = Tolerance(relative: 1e-4)

    static var cases: [String] {
        let folder = Fixtures.path("gradients")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return files.filter { $0.hasSuffix(".io.h5") }.map { String($0.dropLast(6)) }.sorted()
    }

    func testEveryCaseMatchesKeras() throws {
        let cases = Self.cases
        XCTAssertGreaterThanOrEqual(cases.count, 60, "the gradient fixtures are missing")
        for name in cases {
            try check(name)
        }
    }

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try KerasModel(contentsOf: Fixtures.path("gradients/\(name).h5")).graph
        let golden = try Golden("gradients/\(name).io.h5")
        let context = TrainingContext(seed: UInt64(try golden.int("seed")), epoch: try golden.int("epoch"),
                                      batch: try golden.int("batch"))
        XCTAssertTrue(model.canTrain, "\(name): \(String(describing: model.untrainableLayer))")
        let forward = try model.forwardTraining(try golden.inputs, context: context)
        expect(forward.output, try golden.tensor("output"), "\(name): output")
        let gradients = try model.backward(try golden.tensor("upstream"), tape: forward.tape, inputs: [true],
                                           weights: true)
        guard let dx = gradients.inputs.first ?? nil else { return XCTFail("\(name): no input gradient") }
        expect(dx, try golden.tensor("gradients/input"), "\(name): input gradient")

        // Keras 3 names a depthwise kernel `kernel`; Mien keeps tf.keras's `depthwise_kernel`.
        let paths = Set(model.parameters.map(\.name))
        func mienPath(_ layer: String, _ weight: String) -> String {
            paths.contains("\(layer)/\(weight)") ? "\(layer)/\(weight)" : "\(layer)/depthwise_\(weight)"
        }
        var expected: [String: Tensor] = [:]
        let root = try golden.root.group("gradients")
        for layer in try root.childNames() where layer != "input" {
            for weight in try root.group(layer).childNames() {
                expected[mienPath(layer, weight)] = try golden.tensor("gradients/\(layer)/\(weight)")
            }
        }
        XCTAssertEqual(Set(gradients.weights.keys), Set(expected.keys), "\(name): weights with gradients")
        for (key, value) in expected {
            guard let actual = gradients.weights[key] else { continue }
            expect(actual, value, "\(name): gradient of \(key)")
        }

        let updates = (try? golden.root.group("updates").childNames()) ?? []
        var expectedUpdates: [String: Tensor] = [:]
        for layer in updates {
            for weight in try golden.root.group("updates/\(layer)").childNames() {
                expectedUpdates["\(layer)/\(weight)"] = try golden.tensor("updates/\(layer)/\(weight)")
            }
        }
        XCTAssertEqual(Set(forward.updates.keys), Set(expectedUpdates.keys), "\(name): updated weights")
        for (key, value) in expectedUpdates {
            guard let actual = forward.updates[key] else { continue }
            expect(actual, value, "\(name): \(key) after the call")
        }
    }

    /// EfficientNet-Lite0 (Weights/) from block6a to a new softmax head, cut with
    /// `Graph.suffix(after:)`, in training mode (BatchNormalization with batch statistics;
    /// dropout rates 0, as in the fixture): the output, the gradient at the cut and whole
    /// gradients of a few weights within 1e-4 of their scale, and the norm of every one of
    /// the 50 weights' gradients.
    func testLite0TopMatchesKeras() throws {
        let golden = try Golden("gradients/lite0_top.grad.h5")
        let backbone = try KerasModel(contentsOf: Fixtures.packageRoot.appendingPathComponent("Weights/efficientnet_lite0_notop.h5").path).graph
        guard let top = try backbone.suffix(after: "block5c_add") else { return XCTFail("no block5c_add") }
        // block6b_add reads block6a's output: a cut inside block6b does not separate the model.
        XCTAssertThrowsError(try backbone.suffix(after: "block6b_expand_conv")) { error in
            XCTAssertTrue("\(error)".contains("block6a_project_bn"), "\(error)")
        }
        let noDropout = try top.mapLayers { layer in
            guard var dropout = layer as? Dropout else { return layer }
            dropout.rate = 0
            return dropout
        }
        var head = Dense(name: "head_output", inputUnits: 1280, units: 3, activation: .softmax)
        try head.setParameter("kernel", to: try golden.tensor("head/kernel"))
        try head.setParameter("bias", to: try golden.tensor("head/bias"))
        let input = try golden.inputs[0]
        let model = try Graph(name: "lite0_top",
                              layers: [InputLayer(name: "cut", shape: [nil] + input.shape.dropFirst().map { $0 }), noDropout,
                                       GlobalAveragePooling2D(name: "head_pool"), head],
                              nodes: [.init(layer: 0, inputs: []), .init(layer: 1, inputs: [0]), .init(layer: 2, inputs: [1]),
                                      .init(layer: 3, inputs: [2])],
                              inputNodes: [0], outputNode: 3).flattened()
        let forward = try model.forwardTraining([input], context: TrainingContext(seed: 0))
        expect(forward.output, try golden.tensor("output"), "lite0 top: output")
        let gradients = try model.backward(try golden.tensor("upstream"), tape: forward.tape, inputs: [true], weights: true)
        expect(gradients.inputs[0]!, try golden.tensor("gradients/input"), "lite0 top: gradient at the cut")
        let paths = Set(model.parameters.map(\.name))
        func mienPath(_ key: String) -> String {
            if paths.contains(key) { return key }
            let parts = key.split(separator: "/")
            return "\(parts[0])/depthwise_\(parts[1])"
        }
        // A BatchNormalization's beta before another one (each block's project_bn before the
        // next block's expand_bn) has a gradient of exactly 0 in exact arithmetic: ~1e-7 of
        // float noise, on both sides. Allowed: 1e-4 of the norm, plus 1e-6 of the largest.
        let norms = try golden.root.group("norms")
        var largest = 0.0
        for layer in try norms.childNames() {
            for weight in try norms.group(layer).childNames() {
                largest = max(largest, try golden.root.dataset("norms/\(layer)/\(weight)").readDoubles()[0])
            }
        }
        var count = 0
        for layer in try norms.childNames() {
            for weight in try norms.group(layer).childNames() {
                let key = "\(layer)/\(weight)"
                guard let g = gradients.weights[mienPath(key)] else { XCTFail("no gradient for \(key)"); continue }
                let norm = g.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                let expected = try golden.root.dataset("norms/\(key)").readDoubles()[0]
                XCTAssertEqual(norm, expected, accuracy: 1e-4 * expected + 1e-6 * largest, key)
                count += 1
            }
        }
        XCTAssertEqual(count, 50)
        XCTAssertEqual(gradients.weights.count, 50)
        let whole = try golden.root.group("gradients")
        for layer in try whole.childNames() where layer != "input" {
            for weight in try whole.group(layer).childNames() {
                let key = "\(layer)/\(weight)"
                expect(gradients.weights[mienPath(key)]!, try golden.tensor("gradients/\(key)"), "lite0 top: gradient of \(key)")
            }
        }
    }

    func expect(_ actual: Tensor, _ expected: Tensor, _ what: String) {
        XCTAssertEqual(actual.shape, expected.shape, what)
        if let bad = mismatch(actual, expected, tolerance) { XCTFail("\(what): \(bad)") }
    }
}
