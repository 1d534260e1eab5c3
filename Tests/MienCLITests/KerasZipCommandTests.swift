import Foundation
import MienTestSupport
import XCTest

/// The commands take a Keras 3 `.keras` zip wherever they take a Keras `.h5`, and
/// `mien export --keras x.keras` writes one.
final class KerasZipCommandTests: XCTestCase {
    let zips = ["functional_branches.k3", "nested_deep.k3", "mbconv.k3", "nested_deep.k2"]
    let face = Fixtures.path("images/face_10019449.jpg")

    /// `inspect` gives the summary of the `.h5` Keras saved from the same model.
    func testInspectAKerasZip() throws {
        for fixture in zips {
            let zipped = try runMien(["inspect", Fixtures.path("keras/\(fixture).keras"), "--format", "json"])
            XCTAssertEqual(zipped.status, 0, "\(fixture): \(zipped.stderr)")
            let legacy = try runMien(["inspect", Fixtures.path("keras/\(fixture).h5"), "--format", "json"])
            XCTAssertEqual(zipped.stdout, legacy.stdout, fixture)
        }
        let text = try runMien(["inspect", Fixtures.path("keras/mbconv.k3.keras")])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("Model: \"mbconv\" (Keras 3.15.1)\n"), text.stdout)
        XCTAssertTrue(text.stdout.contains("Total params: 1,284"), text.stdout)
        // Either half of an architecture + weights pair.
        let pair = try runMien(["inspect", Fixtures.path("keras/functional_branches.k3.json"),
                                "--weights", Fixtures.path("keras/functional_branches.k3.keras")])
        XCTAssertEqual(pair.status, 0, pair.stderr)
    }

    /// `predict` on a `.keras` gives what it gives on the `.h5` with the same weights.
    func testPredictFromAKerasZip() throws {
        for fixture in ["nested_deep.k3", "nested_deep.k2"] {
            let zipped = try runMien(["predict", Fixtures.path("keras/\(fixture).keras"), face])
            XCTAssertEqual(zipped.status, 0, "\(fixture): \(zipped.stderr)")
            let legacy = try runMien(["predict", Fixtures.path("keras/\(fixture).h5"), face])
            XCTAssertEqual(zipped.stdout, legacy.stdout.replacingOccurrences(of: ".h5", with: ".keras"), fixture)
        }
    }

    /// Keras model → `.keras` → predictions equal Keras's own; the `.keras` → `.mien` too.
    func testExportToKerasZipAndBack() throws {
        let folder = try makeTemporaryFolder("mien-cli-keras-zip")
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("predict/expected.json")))) as? [String: [String: [Double]]])
        let keras = folder.appendingPathComponent("fer.keras").path
        let export = try runMien(["export", Fixtures.path("predict/fer_softmax.k3.h5"), "--keras", keras])
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertEqual(export.stdout, "wrote \(keras)\n")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: keras)).prefix(4), Data([0x50, 0x4B, 0x03, 0x04]))
        let mien = folder.appendingPathComponent("fer.mien").path
        // The adapter (pixels / 255) is now a layer of the Keras model: it takes raw pixels.
        XCTAssertEqual(try runMien(["export", keras, "--scale", "1", "--output", mien]).status, 0)
        let faces = ["face_10019449.jpg", "face_10046809.jpg", "face_10066226.jpg"]
        for model in [keras, mien] {
            let result = try runMien(["predict", model] + (model == keras ? ["--scale", "1"] : [])
                                     + faces.map { Fixtures.path("images/\($0)") })
            XCTAssertEqual(result.status, 0, result.stderr)
            let output = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
            XCTAssertEqual(output.count, faces.count)
            for object in output {
                let name = URL(fileURLWithPath: object["file"] as? String ?? "").lastPathComponent
                let reference = try XCTUnwrap(expected["fer_softmax"]?[name])
                let scores = object["scores"] as? [Double] ?? []
                XCTAssertEqual(scores.count, reference.count, name)
                for (a, b) in zip(scores, reference) { XCTAssertEqual(a, b, accuracy: 1e-4, name) }
            }
        }
        let inspect = try runMien(["inspect", keras])
        XCTAssertTrue(inspect.stdout.contains("(Keras 3.15.1)"), inspect.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(), ["fer.keras", "fer.mien"])
        // The .h5 export stays what it was for any other name.
        let legacy = folder.appendingPathComponent("fer.h5").path
        XCTAssertEqual(try runMien(["export", keras, "--keras", legacy]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: legacy)).prefix(4), Data([0x89, 0x48, 0x44, 0x46]))
    }

    /// `train --backbone X.keras` and `train --model X.keras`.
    func testTrainFromKerasZips() throws {
        let folder = try makeTemporaryFolder("mien-cli-keras-zip")
        let data = Fixtures.path("faces/folder/train")
        let backbone = folder.appendingPathComponent("backbone.keras").path
        let notop = Fixtures.packageRoot.appendingPathComponent("Weights/efficientnet_lite0_notop.h5").path
        let export = try runMien(["export", notop, "--keras", backbone])
        XCTAssertEqual(export.status, 0, export.stderr)
        let head = try runMien(["train", "--backbone", backbone, "--data", data, "--output", folder.appendingPathComponent("head.mien").path,
                                "--input-size", "96", "--epochs", "1", "--fine-tune-epochs", "0", "--validation-split", "0.34"])
        XCTAssertEqual(head.status, 0, head.stderr)
        XCTAssertTrue(head.stderr.contains("epoch 1/1"), head.stderr)

        let cnn = folder.appendingPathComponent("cnn.keras").path
        XCTAssertEqual(try runMien(["export", Fixtures.path("gradients/step_original_cnn.h5"), "--scale", "1", "--keras", cnn]).status, 0)
        let whole = try runMien(["train", "--model", cnn, "--rescale", "0.00392156862745098", "--data", data,
                                 "--output", folder.appendingPathComponent("cnn.mien").path,
                                 "--epochs", "1", "--batch-size", "4", "--validation-split", "0.34"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertTrue(whole.stderr.contains("epoch 1/1"), whole.stderr)
    }
}

extension HostileInputTests {
    /// Every damaged zip of keras/bad/zip is one line `error: FILE: ...` from each command
    /// that reads a model, never a crash: `zip64_offset.keras` makes ZIPFoundation trap in
    /// the child process that reads every Keras file first. A FIFO is refused at once.
    func testHostileZipsAreRefused() throws {
        let folder = Fixtures.path("keras/bad/zip")
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/expected.json"))) as? [String: String])
        let out = try makeTemporaryFolder("mien-cli-keras-zip")
        for (name, fragment) in expected.sorted(by: { $0.key < $1.key }) {
            let path = "\(folder)/\(name)"
            try assertRefused(["inspect", path], [path + ": ", fragment])
            try assertRefused(["export", path, "--keras", out.appendingPathComponent("x.keras").path], [path + ": "])
            if name != "not_a_zip.keras" {   // not Keras by its contents: read as a .mien
                try assertRefused(["predict", path, face], [path + ": ", fragment])
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out.path), [], "nothing written")
        let fifo = out.appendingPathComponent("fifo.keras").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        try assertRefused(["inspect", fifo], [fifo + ": ", "FIFO"])
        try assertRefused(["predict", fifo, face], [fifo + ": ", "FIFO"])
    }
}
