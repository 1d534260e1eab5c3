import Foundation
import HDF5
import Keras
import NN
import TestSupport
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

    func expect(_ actual: Tensor, _ expected: Tensor, _ what: String) {
        XCTAssertEqual(actual.shape, expected.shape, what)
        if let bad = mismatch(actual, expected, tolerance) { XCTFail("\(what): \(bad)") }
    }
}
