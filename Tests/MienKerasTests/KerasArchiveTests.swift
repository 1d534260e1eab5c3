import Foundation
import MienHDF5
@testable import MienKeras
import MienNN
import MienTestSupport
import XCTest

/// `.keras` zips (`model.save("x.keras")`): the fixtures are models of
/// tools/make_keras_fixtures.py saved by real Keras 3 and tf.keras 2 as `.keras` beside
/// their `.h5`, with the same weights and the same golden `.io.h5`.
final class KerasArchiveTests: XCTestCase {
    static let zips = ["functional_branches.k3", "nested_deep.k3", "mbconv.k3", "nested_deep.k2"]

    /// The `.keras` and the `.h5` that Keras saved from one model import to the same weights,
    /// bit for bit, under the same names; the version comes from metadata.json.
    func testSameWeightsAsTheH5() throws {
        for fixture in Self.zips {
            let zipped = try KerasModel(contentsOf: Fixtures.path("keras/\(fixture).keras"))
            let legacy = try KerasModel(contentsOf: Fixtures.path("keras/\(fixture).h5"))
            let (a, b) = (zipped.graph.parameters, legacy.graph.parameters)
            XCTAssertEqual(a.map(\.name), b.map(\.name), fixture)
            XCTAssertTrue(zip(a, b).allSatisfy { $0.value.isBitwiseEqual(to: $1.value) }, fixture)
            XCTAssertEqual(a.map(\.trainable), b.map(\.trainable), fixture)
            XCTAssertEqual(zipped.kerasVersion, fixture.hasSuffix("k3") ? "3.15.1" : "2.21.0")
            XCTAssertEqual(zipped.path, Fixtures.path("keras/\(fixture).keras"))
            XCTAssertFalse(zipped.initializers.isEmpty, fixture)
        }
    }

    /// A `.keras` serves as an architecture, and as the weights, of a pair.
    func testArchitectureAndWeightsPairs() throws {
        let golden = try Golden("keras/functional_branches.k3.io.h5")
        let pairs = [("functional_branches.k3.keras", "functional_branches.k3.weights.h5"),
                     ("functional_branches.k3.json", "functional_branches.k3.keras"),
                     ("functional_branches.k3.h5", "functional_branches.k3.keras")]
        for (architecture, weights) in pairs {
            let model = try KerasModel(architecture: Fixtures.path("keras/\(architecture)"),
                                       weights: Fixtures.path("keras/\(weights)"))
            if let bad = mismatch(try model.predict(try golden.inputs), try golden.tensor(), kerasTolerance) {
                XCTFail("\(architecture) + \(weights): \(bad)")
            }
        }
    }

    /// Told apart by their contents, whatever their names.
    func testDetectedBySignatureNotByName() throws {
        let folder = try makeTemporaryFolder("mien-keras-zip")
        let renamed = folder.appendingPathComponent("model.h5").path
        try FileManager.default.copyItem(atPath: Fixtures.path("keras/mbconv.k3.keras"), toPath: renamed)
        XCTAssertTrue(KerasModel.isKerasFile(renamed))
        XCTAssertTrue(KerasArchive.isArchive(renamed))
        XCTAssertNoThrow(try KerasModel(contentsOf: renamed))
        XCTAssertTrue(KerasModel.isKerasFile(Fixtures.path("keras/mbconv.k3.h5")))
        XCTAssertFalse(KerasArchive.isArchive(Fixtures.path("keras/mbconv.k3.h5")))
        XCTAssertFalse(KerasModel.isKerasFile(Fixtures.path("keras/bad/zip/not_a_zip.keras")))
        XCTAssertFalse(KerasModel.isKerasFile(Fixtures.path("keras/functional_branches.k3.json")))
    }

    // MARK: Hostile zips

    /// Each damaged copy in keras/bad/zip (tools/make_keras_fixtures.py) is a KerasError that
    /// names the file and says what is wrong, in one line. `zip64_offset.keras` makes
    /// ZIPFoundation trap: only the command line, which reads files in a child process
    /// first, survives it (Tests/MienCLITests).
    func testHostileZipsAreClearErrors() throws {
        let folder = Fixtures.path("keras/bad/zip")
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/expected.json"))) as? [String: String])
        XCTAssertGreaterThanOrEqual(expected.count, 12)
        // As the weights of a pair, only the weights entry is read: these are fine there.
        let weightsFine: Set = ["bad_metadata.keras", "huge_config.keras", "short_config.keras"]
        let architecture = Fixtures.path("keras/functional_branches.k3.json")
        for (name, fragment) in expected.sorted(by: { $0.key < $1.key }) where name != "zip64_offset.keras" {
            let path = "\(folder)/\(name)"
            var loads = [{ try KerasModel(contentsOf: path) }]
            if weightsFine.contains(name) {
                XCTAssertNoThrow(try KerasModel(architecture: architecture, weights: path), name)
            } else {
                loads.append { try KerasModel(architecture: architecture, weights: path) }
            }
            for load in loads {
                guard let error = caught(KerasError.self, load) else { continue }
                XCTAssertEqual(error.file, path, name)
                XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description)
                XCTAssertFalse(error.description.contains("\n"), error.description)
                XCTAssertTrue(error.description.contains(fragment), "\(name): '\(error)' lacks '\(fragment)'")
            }
        }
    }

    func testZipErrorKinds() {
        func kind(_ name: String) -> KerasError.Kind? {
            caught(KerasError.self) { try KerasModel(contentsOf: Fixtures.path("keras/bad/zip/\(name)")) }?.kind
        }
        XCTAssertEqual(kind("truncated.keras"), .archive)
        XCTAssertEqual(kind("zip_bomb.keras"), .archive)
        XCTAssertEqual(kind("huge_config.keras"), .archive)
        XCTAssertEqual(kind("missing_weights.keras"), .notAModel)
        XCTAssertEqual(kind("bad_weights.keras"), .hdf5)
        XCTAssertEqual(kind("bad_metadata.keras"), .invalidConfig)
    }

    /// A FIFO named like a model is refused at once (a read would wait for a writer for ever).
    func testFIFOIsRefused() throws {
        let path = try makeTemporaryFolder("mien-keras-fifo").appendingPathComponent("x.keras").path
        XCTAssertEqual(mkfifo(path, 0o600), 0)
        XCTAssertFalse(KerasModel.isKerasFile(path))
        let error = caught(KerasError.self) { try KerasModel(contentsOf: path) }
        XCTAssertEqual(error?.file, path)
        XCTAssertTrue(error?.message.contains("FIFO") ?? false, "\(String(describing: error))")
        let pair = caught(KerasError.self) {
            try KerasModel(architecture: Fixtures.path("keras/functional_branches.k3.json"), weights: path)
        }
        XCTAssertTrue(pair?.message.contains("FIFO") ?? false, "\(String(describing: pair))")
    }
}

extension KerasImportTests {
    /// Outputs equal Keras's within the `.h5` tests' tolerance; the summary is Keras's.
    func testKerasZipsMatchKeras() throws {
        for fixture in KerasArchiveTests.zips {
            XCTAssertNoThrow(try checkFullModel(fixture, format: "keras"), fixture)
            let golden = try Golden("keras/\(fixture).io.h5")
            let model = try KerasModel(contentsOf: Fixtures.path("keras/\(fixture).keras"))
            let output = try model.predict(try golden.inputs)
            let expected = try golden.tensor()
            let error = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
            print("\(fixture).keras: max |Mien - Keras| = \(error) (outputs up to \(expected.scalars.map(abs).max() ?? 0))")
        }
    }
}
