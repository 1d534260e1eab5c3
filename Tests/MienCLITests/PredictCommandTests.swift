import Foundation
import MienTestSupport
import XCTest

/// `mien predict` and `mien export`, run as a user would.
final class PredictCommandTests: XCTestCase {
    let faces = ["face_10019449.jpg", "face_10046809.jpg", "face_10066226.jpg"]
    var facePaths: [String] { faces.map { Fixtures.path("images/\($0)") } }

    /// Keras's `model.predict` on the same JPEGs, loaded as Keras users load them
    /// (`tools/make_export_fixtures.py`): equal within 1e-4.
    func expected() throws -> [String: [String: [Double]]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("predict/expected.json")))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: [Double]]])
    }

    func predictions(_ arguments: [String]) throws -> [[String: Any]] {
        let result = try runMien(["predict"] + arguments)
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
    }

    func assertScores(_ output: [[String: Any]], equal expected: [String: [Double]],
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(output.count, faces.count, file: file, line: line)
        for object in output {
            let name = URL(fileURLWithPath: object["file"] as? String ?? "").lastPathComponent
            let scores = object["scores"] as? [Double] ?? []
            let reference = expected[name] ?? []
            XCTAssertEqual(scores.count, reference.count, name, file: file, line: line)
            for (a, b) in zip(scores, reference) { XCTAssertEqual(a, b, accuracy: 1e-4, name, file: file, line: line) }
        }
    }

    func testKerasModelEqualsKerasPredict() throws {
        let expected = try expected()
        for model in ["fer_softmax", "fer_sigmoid"] {
            let output = try predictions([Fixtures.path("predict/\(model).k3.h5")] + facePaths)
            assertScores(output, equal: expected[model] ?? [:])
        }
    }

    func testLabelsTopAndThreshold() throws {
        let softmax = try predictions([Fixtures.path("predict/fer_softmax.k3.h5"), facePaths[0],
                                       "--classes", "angry,fear,happy", "--top", "2"])
        XCTAssertEqual(softmax[0]["label"] as? String, "happy")
        XCTAssertEqual((softmax[0]["top"] as? [[String: Any]])?.map { $0["label"] as? String }, ["happy", "fear"])
        // One sigmoid output (scores about 0.44): the threshold decides the class.
        let low = try predictions([Fixtures.path("predict/fer_sigmoid.k3.h5"), facePaths[0],
                                   "--classes", "angry,happy", "--threshold", "0.3"])
        XCTAssertEqual(low[0]["label"] as? String, "happy")
        let high = try predictions([Fixtures.path("predict/fer_sigmoid.k3.h5"), facePaths[0],
                                    "--classes", "angry,happy"])
        XCTAssertEqual(high[0]["label"] as? String, "angry")
    }

    func testCSV() throws {
        let result = try runMien(["predict", Fixtures.path("predict/fer_softmax.k3.h5"), facePaths[0],
                                  "--format", "csv", "--classes", "angry,fear,happy"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "file,label,score_angry,score_fear,score_happy")
        XCTAssertTrue(lines[1].hasPrefix("\(facePaths[0]),happy,"), String(lines[1]))
    }

    /// A backbone's output is a feature map: one column per value, named by its position,
    /// as many as each row holds.
    func testCSVOfAFeatureMap() throws {
        let backbone = Fixtures.packageRoot.appendingPathComponent("Weights/efficientnet_lite0_notop.h5").path
        let result = try runMien(["predict", backbone, facePaths[0], "--format", "csv", "--input-size", "64"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0].count, 2 + 2 * 2 * 1280)
        XCTAssertEqual(lines[1].count, lines[0].count)
        XCTAssertEqual(Array(lines[0].prefix(4)), ["file", "label", "value_0_0_0", "value_0_0_1"])
        XCTAssertEqual(lines[0].last, "value_1_1_1279")
    }

    /// Export to `.mien` (BatchNormalization folded), then predict from it: the same scores.
    func testExportedModelPredictsTheSame() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mien-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let mien = folder.appendingPathComponent("fer.mien").path
        let export = try runMien(["export", Fixtures.path("predict/fer_softmax.k3.h5"), "--output", mien,
                                  "--classes", "angry,fear,happy"])
        XCTAssertEqual(export.status, 0, export.stderr)
        let output = try predictions([mien] + facePaths)
        assertScores(output, equal: try expected()["fer_softmax"] ?? [:])
        XCTAssertEqual(output[0]["label"] as? String, "happy", "classes recorded in the file")
        // And back to Keras from the .mien file: its adapter (pixels / 255) is now a layer of
        // the Keras model, which therefore takes raw pixels (`--scale 1`).
        let keras = folder.appendingPathComponent("fer.h5").path
        XCTAssertEqual(try runMien(["export", mien, "--keras", keras]).status, 0)
        assertScores(try predictions([keras, "--scale", "1"] + facePaths), equal: try expected()["fer_softmax"] ?? [:])
    }

    func testBadImagesAndModelsExitNonZero() throws {
        let model = Fixtures.path("predict/fer_softmax.k3.h5")
        for (arguments, message) in [
            ([model, Fixtures.path("images/not_an_image.jpg")], "not_an_image.jpg"),
            ([model, Fixtures.path("images/truncated.jpg")], "truncated.jpg"),
            ([model, "/no/such/face.png"], "/no/such/face.png"),
            ([Fixtures.path("safetensors/truncated.safetensors"), facePaths[0]], "truncated.safetensors"),
            ([Fixtures.path("keras/functional_branches.k3.h5"), facePaths[0]], "one fixed-size image"),
        ] {
            let result = try runMien(["predict"] + arguments)
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
