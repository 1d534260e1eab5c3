import Foundation
import MienTestSupport
import XCTest

/// The README's "Use Mien from Swift" examples: they build, run, agree with `mien`, and the
/// prediction example links neither libhdf5 nor CSV.swift.
final class ExamplesTests: XCTestCase {
    func product(_ name: String) throws -> URL { try builtProduct(name, besideBundleOf: ExamplesTests.self) }

    let model = Fixtures.packageRoot.appendingPathComponent("Weights/fer_happy_angry.mien").path

    /// One face through the example and through `mien predict`: the same label and scores.
    func testPredictExampleAgreesWithTheCLI() throws {
        let face = Fixtures.path("faces/folder/train/happy").appending("/")
            + (try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("faces/folder/train/happy")).sorted()[0])
        let run = try runBuiltProduct(try product("mien-example-predict"), [model, face])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let cli = try runBuiltProduct(try product("mien"), ["predict", model, face, "--format", "csv"])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        let row = try XCTUnwrap(cli.stdout.split(separator: "\n").last).split(separator: ",").map(String.init)
        XCTAssertEqual(lines.first, row[1], "the label")
        // The CLI prints the model's outputs (one sigmoid score here), the example every
        // class's score: each output is among them.
        let scores = lines.dropFirst().compactMap { Float($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) }
        XCTAssertEqual(scores.count, 2, run.stdout)
        for value in row.dropFirst(2) { XCTAssertTrue(scores.contains(Float(value)!), "\(value) in \(scores)") }
        // A bad file: one line naming it, exit 1, no trap.
        let bad = try runBuiltProduct(try product("mien-example-predict"), [model, model])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stdout.contains(model), bad.stdout)
    }

    /// An app that only predicts needs only MienInference: no libhdf5 loaded, no CSV.swift
    /// symbol linked (its Swift module mangles as `3CSV`).
    func testPredictExampleLinksNeitherHDF5NorCSV() throws {
        let binary = try product("mien-example-predict").path
        let ldd = try runBuiltProduct(URL(fileURLWithPath: "/usr/bin/ldd"), [binary])
        XCTAssertEqual(ldd.status, 0, ldd.stderr)
        XCTAssertFalse(ldd.stdout.contains("libhdf5"), ldd.stdout)
        XCTAssertTrue(ldd.stdout.contains("libturbojpeg"), "the check sees the libraries: \(ldd.stdout)")
        let symbols = try String(contentsOfFile: binary, encoding: .isoLatin1)
        XCTAssertFalse(symbols.contains("$s3CSV"), "CSV.swift is linked")
        XCTAssertFalse(symbols.contains("H5Fopen"), "libhdf5 is referenced")
        XCTAssertTrue(symbols.contains("MienModelFile"), "the check sees Swift symbols")
        // The tool itself links both, so the check can see them.
        let mien = try String(contentsOfFile: try product("mien").path, encoding: .isoLatin1)
        XCTAssertTrue(mien.contains("$s3CSV") && mien.contains("H5Fopen"))
    }

    /// The faces of a photo through the example and through `mien predict`: the same boxes
    /// and labels, in the same order.
    func testPhotoExampleAgreesWithTheCLI() throws {
        let model = Fixtures.packageRoot.appendingPathComponent("Weights/fer7.mien").path
        let detector = Fixtures.packageRoot.appendingPathComponent("Weights/mtcnn-fer").path
        let photo = Fixtures.path("mtcnn/photos/composed_05.jpg")
        let run = try runBuiltProduct(try product("mien-example-photo"), [model, detector, photo])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let cli = try runBuiltProduct(try product("mien"), ["predict", model, photo, "--format", "csv"])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        // file,face,box_x,box_y,box_width,box_height,confidence,label,...
        let expected = cli.stdout.split(separator: "\n").dropFirst().map { line -> String in
            let f = line.split(separator: ",").map(String.init)
            let (x, y, w, h) = (Int(Float(f[2])!), Int(Float(f[3])!), Int(Float(f[4])!), Int(Float(f[5])!))
            return "\(x),\(y) \(w)×\(h): \(f[7])"
        }
        XCTAssertEqual(expected.count, 3)
        XCTAssertEqual(run.stdout.split(separator: "\n").map(String.init), expected)
        // A file that is not an image: one line naming it, exit 1.
        let bad = try runBuiltProduct(try product("mien-example-photo"), [model, detector, model])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stdout.contains(model), bad.stdout)
    }

    /// Fine-tuning from code on the fixture faces, then loading the model it wrote.
    func testFineTuneExample() throws {
        let output = try makeTemporaryFolder("mien-example").appendingPathComponent("m.mien").path
        let backbone = Fixtures.packageRoot.appendingPathComponent("Weights/efficientnet_lite0_notop.h5").path
        let run = try runBuiltProduct(try product("mien-example-fine-tune"),
                                      [backbone, Fixtures.path("faces/folder/train"), output])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        for text in ["epoch 2/2", "wrote \(output)", "classes: [\"angry\", \"happy\"]"] {
            XCTAssertTrue(run.stdout.contains(text), "\(text): \(run.stdout)")
        }
    }

    /// The README shows the examples as they are compiled here.
    func testREADMEShowsTheCompiledExamples() throws {
        let readme = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        for example in ["Examples/PredictFace/main.swift", "Examples/PredictPhoto/main.swift", "Examples/FineTune/main.swift"] {
            let source = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent(example), encoding: .utf8)
            XCTAssertTrue(readme.contains(source), "README.md lacks \(example) verbatim")
        }
    }
}
