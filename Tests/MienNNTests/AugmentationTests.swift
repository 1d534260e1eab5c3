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
