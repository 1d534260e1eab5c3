import MienHDF5
@testable import MienKeras
import MienKerasConfig
import MienNN
import MienTestSupport
import XCTest

/// `mien export --keras`: the files load in Keras 3 and tf.keras and predict what Mien
/// predicts (`tools/make_export_fixtures.py` loaded the committed exports in both and
/// stored their outputs), and Mien re-imports its own exports exactly.
final class KerasExportTests: XCTestCase {
    /// name → (source fixture, the adapter the export options describe)
    static let cases: [(String, String, InputAdapter?)] = [
        ("nested_mixed_images", "nested_mixed.k2",
         InputAdapter(inputSize: [8, 8, 1], outputSize: [16, 16, 3], scale: 0.01, offset: -0.5)),
        ("functional_branches", "functional_branches.k3", nil),
        ("mbconv", "mbconv.k3", InputAdapter(inputSize: [16, 16, 8], outputSize: [16, 16, 8], scale: 1)),
    ]

    func testKerasLoadsTheExportsAndPredictsWhatMienPredicts() throws {
        for (name, source, adapter) in Self.cases {
            let golden = try Golden("export/\(name).io.h5")
            let inputs = try golden.inputs
            let original = try KerasModel(contentsOf: Fixtures.path("keras/\(source).h5")).graph
            let mien = try (adapter.map { try $0.prepended(to: original) } ?? original).forward(inputs)
            for key in ["output_keras3", "output_tf_keras"] {
                if let bad = mismatch(mien, try golden.tensor(key), kerasTolerance) { XCTFail("\(name) \(key): \(bad)") }
            }
            // The committed export, imported back.
            let exported = try KerasModel(contentsOf: Fixtures.path("export/\(name).h5"))
            XCTAssertEqual(try exported.predict(inputs), mien, name)
        }
    }

    /// Exporting now gives the file the fixture script checked in Keras, and importing it
    /// gives back the same computation.
    func testExportIsStableAndReimportsExactly() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mien-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, source, adapter) in Self.cases {
            let original = try KerasModel(contentsOf: Fixtures.path("keras/\(source).h5")).graph
            let path = folder.appendingPathComponent("\(name).h5").path
            try KerasExport.write(original, adapter: adapter, to: path)
            let fresh = try HDF5File(path: path).root.stringAttribute("model_config")
            let committed = try HDF5File(path: Fixtures.path("export/\(name).h5")).root.stringAttribute("model_config")
            XCTAssertEqual(fresh, committed, "\(name): rerun tools/make_export_fixtures.py")
            let inputs = try Golden("export/\(name).io.h5").inputs
            let expected = try (adapter.map { try $0.prepended(to: original) } ?? original).forward(inputs)
            XCTAssertEqual(try KerasModel(contentsOf: path).predict(inputs), expected, name)
        }
    }

    func testHardSigmoidIsRefused() throws {
        let graph = try KerasModel(contentsOf: Fixtures.path("keras/activations.k3.h5")).graph
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hs-\(UUID().uuidString).h5").path
        XCTAssertThrowsError(try KerasExport.write(graph, to: path)) { error in
            XCTAssertTrue("\(error)".contains("hard_sigmoid"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "no half-written file")
    }

    /// Flattening inlines nested models without changing the function or the weights.
    func testFlattenedDeepModelComputesTheSame() throws {
        for fixture in ["nested_deep.k2", "nested_deep_clash.k3", "nested_frozen.k3"] {
            let graph = try KerasModel(contentsOf: Fixtures.path("keras/\(fixture).h5")).graph
            let flat = try graph.flattened()
            XCTAssertFalse(flat.layers.contains { $0 is Graph }, fixture)
            XCTAssertEqual(flat.parameterCount, graph.parameterCount, fixture)
            XCTAssertEqual(WeightOrder.trainableCount(flat, kerasMajor: 3), WeightOrder.trainableCount(graph, kerasMajor: 3))
            let inputs = try Golden("keras/\(fixture).io.h5").inputs
            XCTAssertEqual(try flat.forward(inputs), try graph.forward(inputs), fixture)
        }
    }
}
