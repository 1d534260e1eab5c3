import Foundation
import MienTestSupport
import XCTest

/// Runs the built `mien` tool as a user would.
func runMien(_ arguments: [String], timeout: Double = 300) throws -> (status: Int32, stdout: String, stderr: String) {
    try runBuiltProduct(try mienExecutable(), arguments, timeout: timeout)
}

func mienExecutable() throws -> URL {
    try builtProduct("mien", besideBundleOf: InspectCommandTests.self)
}

final class InspectCommandTests: XCTestCase {
    func testTextSummaryListsLayersAndKerasTotals() throws {
        let result = try runMien(["inspect", Fixtures.path("keras/sequential_cnn.k3.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("Keras 3.15.1"), result.stdout)
        XCTAssertTrue(result.stdout.contains("(Conv2D)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("(None, 16, 16, 3)"), result.stdout)
        XCTAssertTrue(result.stdout.contains("Total params: "), result.stdout)
        XCTAssertTrue(result.stdout.contains("Non-trainable params: 16"), result.stdout)
    }

    /// The JSON counts equal Keras's for every fixture, both Keras versions.
    func testJSONParameterCountsEqualKerasForEveryFixture() throws {
        let fixtures = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("keras"))
            .filter { $0.hasSuffix(".io.h5") }.map { String($0.dropLast(".io.h5".count)) }
        XCTAssertGreaterThan(fixtures.count, 20)
        for fixture in fixtures.sorted() {
            let result = try runMien(["inspect", Fixtures.path("keras/\(fixture).h5"), "--format", "json"])
            XCTAssertEqual(result.status, 0, "\(fixture): \(result.stderr)")
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            for key in ["keras_version", "input_shape", "output_shape", "total_params", "trainable_params",
                        "non_trainable_params", "layers"] {
                XCTAssertNotNil(json[key], "\(fixture): \(key)")
            }
            let expected = try Golden("keras/\(fixture).io.h5").parameterCounts
            XCTAssertEqual(json["total_params"] as? Int, expected.total, fixture)
            XCTAssertEqual(json["trainable_params"] as? Int, expected.trainable, fixture)
            XCTAssertEqual(json["non_trainable_params"] as? Int, expected.nonTrainable, fixture)
        }
    }

    func testWeightsOnlyFileWithArchitecture() throws {
        let result = try runMien(["inspect", Fixtures.path("keras/nested_unfrozen.k3.json"),
                                  "--weights", Fixtures.path("keras/nested_unfrozen.k3.weights.h5")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("(Functional)"), result.stdout)
    }

    /// Bad input: a message naming the file and the problem, exit status 1, no trap.
    func testBadFilesExitNonZeroWithAMessage() throws {
        let cases: [(String, String)] = [
            ("not_hdf5.h5", "not an HDF5 file"),
            ("empty.h5", "empty"),
            ("truncated.h5", "truncated.h5"),
            ("no_model.h5", "model_config"),
            ("lambda.k3.h5", "'Lambda' is not supported"),
            ("custom_layer.k3.h5", "is not supported"),
            ("channels_first.k3.h5", "channels_first"),
            ("missing_weight.k2.h5", "missing"),
            ("wrong_shape.k3.h5", "shape"),
            ("keras1.h5", "Keras 1.2.2"),
        ]
        for (file, message) in cases {
            let path = Fixtures.path("keras/bad/\(file)")
            let result = try runMien(["inspect", path])
            XCTAssertEqual(result.status, 1, "\(file): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("error: "), "\(file): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(path), "\(file) names the file: \(result.stderr)")
            XCTAssertTrue(result.stderr.localizedCaseInsensitiveContains(message), "\(file): \(result.stderr)")
            XCTAssertTrue(result.stdout.isEmpty, "\(file): nothing on stdout")
        }
    }

    /// The bundled backbone: `mien inspect` prints Keras's parameter counts.
    func testBundledBackboneCountsEqualKeras() throws {
        let path = Fixtures.packageRoot.appendingPathComponent("Weights/efficientnet_lite0_notop.h5").path
        let text = try runMien(["inspect", path])
        XCTAssertEqual(text.status, 0, text.stderr)
        let counts = try Golden("efficientnet/notop.io.h5").parameterCounts
        XCTAssertEqual(counts.total, 3_413_024)
        XCTAssertTrue(text.stdout.contains("Total params: 3,413,024"), text.stdout)
        XCTAssertTrue(text.stdout.contains("Trainable params: 3,371,008"), text.stdout)
        XCTAssertTrue(text.stdout.contains("Non-trainable params: 42,016"), text.stdout)
        XCTAssertTrue(text.stdout.contains("block1a_dwconv (DepthwiseConv2D)"), text.stdout)
        let json = try runMien(["inspect", path, "--format", "json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["total_params"] as? Int, counts.total)
        XCTAssertEqual(object["trainable_params"] as? Int, counts.trainable)
        XCTAssertEqual(object["non_trainable_params"] as? Int, counts.nonTrainable)
    }
}
