import Foundation
import MienHDF5
@testable import MienNN
import MienTestSupport
import XCTest

/// The image augmentation layers' transforms against Keras with given parameters
/// (`tools/make_augmentation_fixtures.py` → Tests/Fixtures/augmentation/transforms.h5):
/// Keras 3's `transform_images` with an explicit transformation, tf.keras 2's `transform`
/// with its matrices, `tf.image.adjust_contrast`, and the crops and deterministic layers
/// called as layers.
///
/// Tolerances, with the errors measured against TensorFlow 2.21: the projective transform
/// mirrors TensorFlow's kernel operation by operation, so given Keras's own matrices it is
/// bit for bit (tolerance 0; all 48 affine cases of both versions), as are the flips,
/// brightness and crops (smart_resize included). Mien's own matrices (double, then float)
/// are within 4.8e-7 of Keras's float32 ones (tolerance 1e-7 of the largest entry), which
/// moves a bilinear sample by up to 2.1e-4 on a 0...255 image (tolerance 1e-5 of it; nearest
/// may pick the other pixel at an exact half and is compared only with Keras's matrices).
/// Contrast means are summed in double, Keras's in float32: 3.1e-5 on 255 (tolerance 1e-6).
final class AugmentationTransformTests: XCTestCase {
    static let file = Fixtures.path("augmentation/transforms.h5")
    let exact = Tolerance(relative: 0)

    func root() throws -> HDF5Group { try HDF5File(path: Self.file).root }

    func image(_ name: String, _ root: HDF5Group) throws -> Tensor {
        let base = name.hasPrefix("a") ? "image_a" : "image_b"
        let dataset = try root.dataset(base)
        var t = Tensor(shape: dataset.shape, scalars: try dataset.readFloats())
        if name.hasSuffix("/255") { t.scalars = t.scalars.map { $0 / 255 } }
        return t
    }

    func tensor(_ group: HDF5Group, _ name: String) throws -> Tensor {
        let d = try group.dataset(name)
        return Tensor(shape: d.shape, scalars: try d.readFloats())
    }

    struct MissingAttribute: Error { var key: String }

    func string(_ group: HDF5Group, _ key: String) throws -> String {
        guard let s = try group.attribute(key).stringValue else { throw MissingAttribute(key: key) }
        return s
    }

    func number(_ group: HDF5Group, _ key: String) throws -> Double {
        let a = try group.attribute(key)
        guard let d = a.doubleValue ?? a.intValue.map(Double.init) else { throw MissingAttribute(key: key) }
        return d
    }

    /// Every case of one Keras version whose `layer` attribute is in `layers`.
    func cases(_ version: String, _ layers: Set<String>) throws -> [(name: String, group: HDF5Group)] {
        let group = try root().group(version)
        return try group.childNames().sorted().compactMap { name in
            let g = try group.group(name)
            return layers.contains(try string(g, "layer")) ? (name, g) : nil
        }
    }

    func expect(_ actual: Tensor, _ expected: Tensor, _ tolerance: Tolerance, _ what: String,
                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.shape, expected.shape, what, file: file, line: line)
        if let bad = mismatch(actual, expected, tolerance) { XCTFail("\(what): \(bad)", file: file, line: line) }
    }

    func testAffineTransformsWithKerasMatricesMatchBothVersions() throws {
        var count = 0
        for version in ["k3", "k2"] {
            for (name, g) in try cases(version, ["RandomRotation", "RandomZoom", "RandomTranslation"]) {
                let sampling = AffineSampling(fillMode: FillMode(rawValue: try string(g, "fill_mode"))!,
                                              fillValue: Float(try number(g, "fill_value")),
                                              interpolation: Interpolation(rawValue: try string(g, "interpolation"))!)
                let layer = RandomRotation(name: name, factor: FactorRange(0, 0), sampling: sampling)
                let m = try tensor(g, "matrix")
                let matrices = (0..<m.shape[0]).map { Array(m.scalars[$0 * 8..<($0 + 1) * 8]) }
                let x = try image(try string(g, "image"), try root())
                expect(try layer.apply(matrices, to: x), try tensor(g, "output"), exact, "\(version)/\(name)")
                count += 1
            }
        }
        XCTAssertEqual(count, 48)
    }

    /// Mien's matrices from the same angles, zooms and shifts: equal to Keras's within float
    /// rounding, and the images they give within 1e-4 (bilinear; nearest may pick the other
    /// pixel at an exact half).
    func testMienMatricesMatchKeras() throws {
        for version in ["k3", "k2"] {
            for (name, g) in try cases(version, ["RandomRotation", "RandomZoom", "RandomTranslation"]) {
                let kind = try string(g, "layer")
                let p = try tensor(g, "params")
                let x = try image(try string(g, "image"), try root())
                let (h, w) = (x.shape[1], x.shape[2])
                let matrices: [ProjectiveMatrix] = (0..<x.shape[0]).map { n in
                    switch kind {
                    case "RandomRotation": return RandomRotation.matrix(angle: Double(p.scalars[n]), height: h, width: w)
                    case "RandomZoom": return RandomZoom.matrix(zoomX: p.scalars[2 * n], zoomY: p.scalars[2 * n + 1], height: h, width: w)
                    default: return RandomTranslation.matrix(dx: p.scalars[2 * n], dy: p.scalars[2 * n + 1])
                    }
                }
                let keras = try tensor(g, "matrix")
                expect(Tensor(shape: keras.shape, scalars: matrices.flatMap { $0 }), keras, Tolerance(relative: 1e-7),
                       "\(version)/\(name): matrix")
                guard try string(g, "interpolation") == "bilinear" else { continue }
                let sampling = AffineSampling(fillMode: FillMode(rawValue: try string(g, "fill_mode"))!,
                                              fillValue: Float(try number(g, "fill_value")), interpolation: .bilinear)
                let layer = RandomZoom(name: name, heightFactor: FactorRange(0, 0), sampling: sampling)
                expect(try layer.apply(matrices, to: x), try tensor(g, "output"), Tolerance(relative: 1e-5),
                       "\(version)/\(name): image")
            }
        }
    }

    func testFlipsMatchKeras3() throws {
        for (name, g) in try cases("k3", ["RandomFlip"]) {
            let layer = RandomFlip(name: name, mode: RandomFlip.Mode(rawValue: try string(g, "mode"))!)
            let p = try tensor(g, "params")
            let flips = (0..<p.shape[0]).map { RandomFlip.Flip(horizontal: p.scalars[2 * $0] != 0, vertical: p.scalars[2 * $0 + 1] != 0) }
            expect(try layer.apply(flips, to: try image("a", try root())), try tensor(g, "output"), Tolerance(relative: 0), name)
        }
    }

    func testContrastMatchesBothVersions() throws {
        for version in ["k3", "k2"] {
            for (name, g) in try cases(version, ["RandomContrast"]) {
                let layer = RandomContrast(name: name, factor: FactorRange(0, 0),
                                           valueRange: (try number(g, "value_low"), try number(g, "value_high")),
                                           kerasMajor: version == "k3" ? 3 : 2)
                expect(try layer.apply(try tensor(g, "params").scalars, to: try image("a", try root())),
                       try tensor(g, "output"), Tolerance(relative: 1e-6), "\(version)/\(name)")
            }
        }
    }

    func testBrightnessMatchesBothVersions() throws {
        var count = 0
        for version in ["k3", "k2"] {
            for (name, g) in try cases(version, ["RandomBrightness"]) {
                let layer = RandomBrightness(name: name, factor: FactorRange(0, 0),
                                             valueRange: (try number(g, "value_low"), try number(g, "value_high")))
                expect(try layer.apply(try tensor(g, "params").scalars, to: try image(try string(g, "image"), try root())),
                       try tensor(g, "output"), exact, "\(version)/\(name)")
                count += 1
            }
        }
        XCTAssertEqual(count, 5)
    }

    /// RandomCrop in training (a given window; Keras 3's slice-and-resize, tf.keras 2's
    /// smart_resize of a smaller image) and at inference (Keras 3: the input; tf.keras 2:
    /// smart_resize); CenterCrop (crop, or smart_resize when smaller).
    func testCropsMatchBothVersions() throws {
        var count = 0
        for version in ["k3", "k2"] {
            let major = version == "k3" ? 3 : 2
            for (name, g) in try cases(version, ["RandomCrop", "CenterCrop"]) {
                let x = try image(try string(g, "image"), try root())
                let (h, w) = (Int(try number(g, "height")), Int(try number(g, "width")))
                let output: Tensor
                if try string(g, "layer") == "CenterCrop" {
                    output = try CenterCrop(name: name, height: h, width: w).forward([x])
                } else {
                    let layer = RandomCrop(name: name, height: h, width: w, kerasMajor: major)
                    if try number(g, "training") == 0 {
                        output = try layer.forward([x])
                        XCTAssertEqual(try layer.outputShape(for: [x.shape.map { $0 }]), output.shape.map { $0 }, name)
                    } else {
                        let p = try tensor(g, "params")
                        // Keras 3's given starts; tf.keras 2's smaller images are smart_resized.
                        var generator = SeededGenerator(seed: 1)
                        var (box, _) = try layer.drawBox(imageHeight: x.shape[1], imageWidth: x.shape[2], generator: &generator)
                        if p.count == 2 { (box.top, box.left) = (Int(p.scalars[0]), Int(p.scalars[1])) }
                        output = try layer.apply(box, to: x)
                    }
                }
                expect(output, try tensor(g, "output"), exact, "\(version)/\(name)")
                count += 1
            }
        }
        XCTAssertEqual(count, 16 + 14)
    }
}

/// The augmentation layers outside the transform: identity at inference, Keras's parameter
/// distributions (by statistics over 20,000 draws from Mien's seeded streams; Keras's own
/// numbers come from TensorFlow's RNG and cannot be compared one by one), reproducible
/// training calls that split across cores as the whole batch, and the backward passes.
final class AugmentationTrainingTests: XCTestCase {
    let n = 20_000

    /// Mean, standard deviation and the share in each of 10 equal bins of `[low, high]`.
    func assertUniform(_ values: [Double], _ low: Double, _ high: Double, _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        let mean = values.reduce(0, +) / Double(values.count)
        let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        let width = high - low
        // Standard errors: width/√(12n) for the mean (0.002·width at n = 20,000).
        XCTAssertEqual(mean, (low + high) / 2, accuracy: 0.01 * width, "\(what): mean", file: file, line: line)
        XCTAssertEqual(sd, width / 12.0.squareRoot(), accuracy: 0.01 * width, "\(what): standard deviation", file: file, line: line)
        XCTAssertTrue(values.allSatisfy { $0 >= low - 1e-6 * width && $0 <= high + 1e-6 * width }, "\(what): range", file: file, line: line)
        var bins = [Int](repeating: 0, count: 10)
        for v in values { bins[min(9, max(0, Int((v - low) / width * 10)))] += 1 }
        // Each bin holds 2,000 ± 42 (one standard deviation).
        XCTAssertTrue(bins.allSatisfy { abs($0 - values.count / 10) < values.count / 50 }, "\(what): bins \(bins)", file: file, line: line)
    }

    func testInferencePassesTheInputThrough() throws {
        let x = randomTensor([2, 5, 6, 3], seed: 1, range: 0...255)
        let layers: [any Layer] = [
            RandomFlip(name: "f"), RandomRotation(name: "r", factor: FactorRange(-0.2, 0.2)),
            RandomZoom(name: "z", heightFactor: FactorRange(-0.2, 0.2)),
            RandomTranslation(name: "t", heightFactor: FactorRange(-0.2, 0.2), widthFactor: FactorRange(0, 0.1)),
            RandomContrast(name: "c", factor: FactorRange(0, 0.5)), RandomBrightness(name: "b", factor: FactorRange(-0.2, 0.2)),
            RandomCrop(name: "k", height: 3, width: 3, kerasMajor: 3),
        ]
        for layer in layers {
            XCTAssertEqual(try layer.forward([x]), x, layer.name)
            XCTAssertTrue(layer.isIdentityAtInference && layer.usesTrainingFlag && layer.canTrain, layer.name)
            XCTAssertEqual(try layer.outputShape(for: [[nil, 5, 6, 3]]), [nil, 5, 6, 3], layer.name)
            assertLayerError(layer.name, try layer.forward([Tensor(zeros: [2, 3])]))
        }
        let k2 = RandomCrop(name: "k2", height: 3, width: 3, kerasMajor: 2)
        XCTAssertFalse(k2.isIdentityAtInference)
        XCTAssertEqual(try k2.forward([x]).shape, [2, 3, 3, 3])
    }

    func testAffineParameterDistributions() {
        var g = SeededGenerator(seed: 11)
        let rotation = RandomRotation(name: "r", factor: FactorRange(-0.1, 0.2))
        let angles = rotation.drawMatrices(count: n, height: 9, width: 9, generator: &g).map { Double(atan2($0[3], $0[0])) }
        assertUniform(angles, -0.2 * .pi, 0.4 * .pi, "rotation angle")

        let zoom = RandomZoom(name: "z", heightFactor: FactorRange(-0.3, 0.2))
        let same = zoom.drawMatrices(count: n, height: 9, width: 9, generator: &g)
        assertUniform(same.map { Double($0[4]) }, 0.7, 1.2, "zoom step")
        XCTAssertTrue(same.allSatisfy { $0[0] == $0[4] }, "without width_factor both axes take the height's draw")
        let apart = RandomZoom(name: "z", heightFactor: FactorRange(-0.3, 0.2), widthFactor: FactorRange(0, 0.5))
            .drawMatrices(count: n, height: 9, width: 9, generator: &g)
        assertUniform(apart.map { Double($0[0]) }, 1, 1.5, "zoom width step")
        let (zx, zy) = (apart.map { Double($0[0]) }, apart.map { Double($0[4]) })
        XCTAssertEqual(correlation(zx, zy), 0, accuracy: 0.03, "independent draws")

        let shift = RandomTranslation(name: "t", heightFactor: FactorRange(-0.2, 0.1), widthFactor: FactorRange(0.05, 0.3))
        let shifts = shift.drawMatrices(count: n, height: 10, width: 20, generator: &g)
        assertUniform(shifts.map { Double(-$0[5]) / 10 }, -0.2, 0.1, "height shift")
        assertUniform(shifts.map { Double(-$0[2]) / 20 }, 0.05, 0.3, "width shift")
    }

    func correlation(_ a: [Double], _ b: [Double]) -> Double {
        let (ma, mb) = (a.reduce(0, +) / Double(a.count), b.reduce(0, +) / Double(b.count))
        let cov = zip(a, b).reduce(0) { $0 + ($1.0 - ma) * ($1.1 - mb) }
        let va = a.reduce(0) { $0 + ($1 - ma) * ($1 - ma) }, vb = b.reduce(0) { $0 + ($1 - mb) * ($1 - mb) }
        return cov / (va * vb).squareRoot()
    }

    func testFlipContrastBrightnessAndCropDistributions() throws {
        var g = SeededGenerator(seed: 12)
        // Keras 3: one draw per image, both flips together; tf.keras 2: each flip apart.
        let k3 = RandomFlip(name: "f", mode: .horizontalAndVertical, kerasMajor: 3).draw(count: n, generator: &g)
        XCTAssertTrue(k3.allSatisfy { $0.horizontal == $0.vertical })
        XCTAssertEqual(Double(k3.filter(\.horizontal).count) / Double(n), 0.5, accuracy: 0.015)
        let k2 = RandomFlip(name: "f", mode: .horizontalAndVertical, kerasMajor: 2).draw(count: n, generator: &g)
        XCTAssertEqual(Double(k2.filter(\.horizontal).count) / Double(n), 0.5, accuracy: 0.015)
        XCTAssertEqual(Double(k2.filter(\.vertical).count) / Double(n), 0.5, accuracy: 0.015)
        XCTAssertEqual(Double(k2.filter { $0.horizontal && $0.vertical }.count) / Double(n), 0.25, accuracy: 0.015)
        XCTAssertFalse(RandomFlip(name: "f", mode: .horizontal).draw(count: 100, generator: &g).contains { $0.vertical })

        // RandomContrast: a factor in [1 − lower, 1 + upper], per image (Keras 3) or per batch (tf.keras 2).
        let perImage = RandomContrast(name: "c", factor: FactorRange(0.2, 0.5), kerasMajor: 3).draw(count: n, generator: &g)
        assertUniform(perImage.map(Double.init), 0.8, 1.5, "Keras 3 contrast factor")
        let batches = (0..<n / 4).map { _ in RandomContrast(name: "c", factor: FactorRange(0.2, 0.5), kerasMajor: 2).draw(count: 4, generator: &g) }
        XCTAssertTrue(batches.allSatisfy { Set($0).count == 1 })
        assertUniform(batches.map { Double($0[0]) }, 0.8, 1.5, "tf.keras 2 contrast factor")

        let brightness = RandomBrightness(name: "b", factor: FactorRange(-0.3, 0.1), valueRange: (0, 2)).draw(count: n, generator: &g)
        assertUniform(brightness.map { Double($0) / 2 }, -0.3, 0.1, "brightness delta / range")

        // RandomCrop: one window per batch, its start uniform over 0...H − h.
        let crop = RandomCrop(name: "k", height: 6, width: 2, kerasMajor: 3)
        var tops = [Int](repeating: 0, count: 5)
        for _ in 0..<n {
            let (box, resized) = try crop.drawBox(imageHeight: 10, imageWidth: 3, generator: &g)
            XCTAssertFalse(resized)
            tops[box.top] += 1
        }
        XCTAssertTrue(tops.allSatisfy { abs($0 - n / 5) < n / 50 }, "\(tops)")
        // Keras 3 crops at random only an image larger on both sides; tf.keras 2 one at least as large.
        XCTAssertTrue(try RandomCrop(name: "k", height: 10, width: 2, kerasMajor: 3).drawBox(imageHeight: 10, imageWidth: 3, generator: &g).box.top == 0)
        XCTAssertFalse(try RandomCrop(name: "k", height: 10, width: 2, kerasMajor: 2).drawBox(imageHeight: 10, imageWidth: 3, generator: &g).resized)
    }

    /// Each layer draws from its own `.imageAugmentation` stream: reproducible, different per
    /// layer and batch, and a batch split across cores draws what the whole batch draws.
    func testTrainingCallsAreReproducibleAndSplitAsTheWholeBatch() throws {
        let x = randomTensor([4, 6, 7, 2], seed: 3, range: 0...255)
        let layers: [any Layer] = [
            RandomFlip(name: "f"), RandomRotation(name: "r", factor: FactorRange(-0.2, 0.2)),
            RandomZoom(name: "z", heightFactor: FactorRange(-0.2, 0.2)),
            RandomTranslation(name: "t", heightFactor: FactorRange(-0.2, 0.2), widthFactor: FactorRange(0, 0.1)),
            RandomContrast(name: "c", factor: FactorRange(0, 0.5)), RandomBrightness(name: "b", factor: FactorRange(-0.2, 0.2)),
            RandomCrop(name: "k", height: 4, width: 5), CenterCrop(name: "cc", height: 4, width: 5),
        ]
        let context = TrainingContext(seed: 21, epoch: 1, batch: 5)
        for layer in layers {
            let whole = try layer.forwardTraining([x], context: context).output
            XCTAssertEqual(try layer.forwardTraining([x], context: context).output, whole, layer.name)
            var part = context
            part.rows = 2..<4
            part.batchSize = 4
            let half = try layer.forwardTraining([x.batch(2..<4)], context: part).output
            XCTAssertEqual(half, whole.batch(2..<4), "\(layer.name): a split batch draws as the whole")
            guard !(layer is CenterCrop) else { continue }
            var next = context
            next.batch = 6
            XCTAssertNotEqual(try layer.forwardTraining([x], context: next).output, whole, "\(layer.name): another batch draws anew")
        }
        let dropout = context.generator(for: "f")
        var augmentation = context.generator(for: "f", stream: .imageAugmentation)
        var d = dropout
        XCTAssertNotEqual(d.next(), augmentation.next(), "the augmentation stream is not Dropout's")
    }

    func testBackwardPasses() throws {
        let x = randomTensor([2, 5, 6, 2], seed: 4, range: 0...255)
        let g = randomTensor([2, 5, 6, 2], seed: 5)
        let context = TrainingContext(seed: 3)
        // The affine layers give no input gradient (they sit after the model's input).
        let rotation = RandomRotation(name: "r", factor: FactorRange(-0.2, 0.2))
        let forward = try rotation.forwardTraining([x], context: context)
        assertLayerError("r", try rotation.backward(g, tape: forward.tape, inputs: [true], weights: true))
        XCTAssertNil(try rotation.backward(g, tape: forward.tape, inputs: [false], weights: true).inputs[0])

        // A flip's gradient is flipped back.
        let flip = RandomFlip(name: "f")
        let flipped = try flip.forwardTraining([x], context: context)
        let dFlip = try XCTUnwrap(try flip.backward(flipped.output, tape: flipped.tape, inputs: [true], weights: false).inputs[0])
        XCTAssertEqual(dFlip, x)

        // A crop puts the gradient back in its window; a resizing one refuses.
        let center = CenterCrop(name: "cc", height: 3, width: 4)
        let cropped = try center.forwardTraining([x], context: context)
        let dCrop = try XCTUnwrap(try center.backward(cropped.output, tape: cropped.tape, inputs: [true], weights: false).inputs[0])
        XCTAssertEqual(try center.forward([dCrop]), cropped.output)
        XCTAssertEqual(dCrop.scalars.filter { $0 != 0 }.count, cropped.output.scalars.filter { $0 != 0 }.count)
        let grow = CenterCrop(name: "grow", height: 7, width: 6)
        let grown = try grow.forwardTraining([x], context: context)
        assertLayerError("grow", try grow.backward(grown.output, tape: grown.tape, inputs: [true], weights: false))

        // Contrast and brightness against central differences (in double, of the float
        // function: 1e-2 of the largest gradient covers float32 rounding over a step of 1e-2).
        let small = randomTensor([2, 3, 2, 2], seed: 6, range: 0...1)
        let gs = randomTensor([2, 3, 2, 2], seed: 7)
        for layer in [RandomContrast(name: "c", factor: FactorRange(0.3, 0.6), valueRange: (0.1, 0.9)) as any Layer,
                      RandomBrightness(name: "b", factor: FactorRange(-0.3, 0.3), valueRange: (0, 1))] {
            let f = try layer.forwardTraining([small], context: context)
            let dx = try XCTUnwrap(try layer.backward(gs, tape: f.tape, inputs: [true], weights: false).inputs[0])
            var numeric = [Float](repeating: 0, count: small.count)
            for i in 0..<small.count {
                var plus = small, minus = small
                plus.scalars[i] += 1e-2
                minus.scalars[i] -= 1e-2
                let up = try layer.forwardTraining([plus], context: context).output, down = try layer.forwardTraining([minus], context: context).output
                var sum = 0.0
                for j in 0..<up.count { sum += Double(up.scalars[j] - down.scalars[j]) * Double(gs.scalars[j]) }
                numeric[i] = Float(sum / 2e-2)
            }
            if let bad = mismatch(dx.scalars, numeric, Tolerance(relative: 1e-2)) { XCTFail("\(layer.name): \(bad)") }
        }
    }
}
