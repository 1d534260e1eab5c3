import Foundation
import MienHDF5
@testable import MienKeras
import MienKerasConfig
import MienNN
import MienTestSupport
import XCTest

/// `mien export --keras x.keras`: a Keras 3 `.keras` zip. Mien reads its own exports back
/// exactly here; tools/check_keras_export.py loads them with real Keras 3.
final class KerasZipExportTests: XCTestCase {
    /// (fixture, adapter): Sequential, Functional with several inputs, nested models, an
    /// adapted Normalization, Keras 3's hard_sigmoid, a tf.keras 2 model, an input adapter.
    static let cases: [(String, InputAdapter?)] = [
        ("sequential_cnn.k3", nil), ("functional_branches.k3", nil), ("nested_deep.k3", nil),
        ("nested_deep_clash.k3", nil), ("nested_unfrozen.k3", nil), ("mbconv.k3", nil), ("xception.k3", nil),
        ("activations.k3", nil), ("pool_reshape.k3", nil), ("conv_variants.k3", nil),
        ("preprocessing_adapted.k3", nil), ("dense_mlp.k3", nil), ("nested_deep.k2", nil), ("mbconv.k2", nil),
        ("nested_mixed.k2", InputAdapter(inputSize: [8, 8, 1], outputSize: [16, 16, 3], scale: 0.01, offset: -0.5)),
    ]

    /// Exported and imported back, each model computes exactly what it computed, with the
    /// same weights bit for bit.
    func testExportsReimportExactly() throws {
        let folder = try makeTemporaryFolder("mien-keras-export")
        for (fixture, adapter) in Self.cases {
            let original = try KerasModel(contentsOf: Fixtures.path("keras/\(fixture).h5")).graph
            let path = folder.appendingPathComponent("\(fixture).keras").path
            try KerasExport.writeKeras(original, adapter: adapter, to: path)
            let back = try KerasModel(contentsOf: path)
            XCTAssertEqual(back.kerasVersion, KerasExport.keras3Version)
            var inputs = try Golden("keras/\(fixture).io.h5").inputs
            if let adapter {
                inputs = inputs.map { _ in Tensor(shape: [2] + adapter.inputSize, scalars: (0..<(2 * 64)).map { Float($0 % 17) }) }
            }
            let expected = try (adapter.map { try $0.prepended(to: original) } ?? original).forward(inputs)
            XCTAssertEqual(try back.predict(inputs), expected, fixture)
            let exported = try KerasExport.kerasGraph(original, adapter: adapter)
            XCTAssertEqual(back.graph.parameters.map(\.name), exported.parameters.map(\.name), fixture)
            XCTAssertTrue(zip(back.graph.parameters, exported.parameters).allSatisfy { $0.value.isBitwiseEqual(to: $1.value) },
                          fixture)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).count, Self.cases.count,
                       "no temporary file left behind")
    }

    /// The zip holds what Keras writes, in its order, stored: metadata.json (this Keras
    /// version, the save time), config.json (Keras 3's serialized form, with modules) and
    /// model.weights.h5 in Keras 3's layout, every layer's `vars` named.
    func testTheZipIsLaidOutAsKerasLaysItOut() throws {
        let path = try makeTemporaryFolder("mien-keras-export").appendingPathComponent("m.keras").path
        let graph = try KerasModel(contentsOf: Fixtures.path("keras/sequential_cnn.k3.h5")).graph
        try KerasExport.writeKeras(graph, to: path)
        let archive = try KerasArchive(path: path)
        let metadata = try JSON(parsing: String(decoding: try archive.bytes("metadata.json", limit: 1 << 20), as: UTF8.self))
        XCTAssertEqual(metadata["keras_version"]?.string, "3.15.1")
        let date = try XCTUnwrap(metadata["date_saved"]?.string)
        XCTAssertNotNil(date.range(of: #"^\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d$"#, options: .regularExpression), date)
        let config = try archive.config()
        XCTAssertEqual(config["module"]?.string, "keras")
        XCTAssertEqual(config["class_name"]?.string, "Sequential")
        let layers = try XCTUnwrap(config["config"]?["layers"]?.array)
        XCTAssertTrue(layers.allSatisfy { $0["module"]?.string == "keras.layers" && $0["registered_name"] == .null })
        let weights = try archive.weights()
        XCTAssertEqual(try weights.group("vars").stringAttribute("name"), "sequential")
        // A Sequential's model.layers leaves out its InputLayer: the first Conv2D is conv2d.
        XCTAssertEqual(try weights.group("layers").childNames().sorted(),
                       ["batch_normalization", "conv2d", "conv2d_1", "dense", "dropout", "flatten", "max_pooling2d"])
        XCTAssertEqual(try weights.group("layers/conv2d_1/vars").stringAttribute("name"), "conv2d_1")
        XCTAssertEqual(try weights.dataset("layers/batch_normalization/vars/3").shape, [8])
    }

    /// A tf.keras 2 hard_sigmoid has no Keras 3 name: refused, nothing written.
    func testKeras2HardSigmoidIsRefused() throws {
        let folder = try makeTemporaryFolder("mien-keras-export")
        let path = folder.appendingPathComponent("hs.keras").path
        let graph = try KerasModel(contentsOf: Fixtures.path("keras/activations.k2.h5")).graph
        let error = caught(KerasError.self) { try KerasExport.writeKeras(graph, to: path) }
        XCTAssertEqual(error?.file, path)
        XCTAssertTrue(error?.message.contains("no name in Keras 3") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }

    /// Atomic: an export replaces an existing file whole; a failed one leaves it as it was
    /// and nothing beside it; a missing folder is an error naming the path.
    func testExportIsAtomic() throws {
        let folder = try makeTemporaryFolder("mien-keras-export")
        let path = folder.appendingPathComponent("m.keras").path
        try Data("old".utf8).write(to: URL(fileURLWithPath: path))
        let good = try KerasModel(contentsOf: Fixtures.path("keras/dense_mlp.k3.h5")).graph
        try KerasExport.writeKeras(good, to: path)
        XCTAssertEqual(try KerasModel(contentsOf: path).graph.parameterCount, good.parameterCount)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let bad = try KerasModel(contentsOf: Fixtures.path("keras/activations.k2.h5")).graph
        XCTAssertNotNil(caught(KerasError.self) { try KerasExport.writeKeras(bad, to: path) })
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["m.keras"])

        let nowhere = folder.appendingPathComponent("missing/m.keras").path
        let error = caught(KerasError.self) { try KerasExport.writeKeras(good, to: nowhere) }
        XCTAssertEqual(error?.file, nowhere)
        XCTAssertEqual(error?.kind, .archive)
        XCTAssertTrue(error?.message.contains("cannot write the file") ?? false, "\(String(describing: error))")
    }
}
