import Foundation
import MienTestSupport
import XCTest

/// Hostile and careless input to the command line, one test per class of failure found by
/// the hostile-input issue: each ends with a non-zero exit and one line `error: ...` naming
/// the file or the option, never a crash, a hang, a blowup or exit 0 with wrong numbers.
final class HostileInputTests: XCTestCase {
    let softmax = Fixtures.path("predict/fer_softmax.k3.h5")
    let face = Fixtures.path("images/face_10019449.jpg")
    let faces = Fixtures.path("faces/folder/train")

    /// Runs mien and checks the refusal: a non-zero exit, exactly one stderr line, which
    /// starts with `error: ` and contains each fragment.
    @discardableResult
    func assertRefused(_ arguments: [String], _ fragments: [String], status: Int32? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try runMien(arguments, timeout: 120)
        let command = "mien " + arguments.joined(separator: " ")
        XCTAssertNotEqual(result.status, 0, command, file: file, line: line)
        if let status { XCTAssertEqual(result.status, status, command, file: file, line: line) }
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "\(command): \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.hasPrefix("error: "), "\(command): \(result.stderr)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(result.stderr.contains(fragment), "\(command): '\(result.stderr)' lacks '\(fragment)'",
                          file: file, line: line)
        }
        XCTAssertEqual(result.stdout, "", command, file: file, line: line)
        return result.stderr
    }

    /// Classes 1, 2, 4 and 9: each file of `Tests/Fixtures/hostile` (tools/make_hostile_fixtures.py)
    /// is refused by every command that reads a model, with the reason `expected.json` gives.
    /// `heap_flip.k3.h5` crashes libhdf5 itself: mien survives it (the read runs in a child).
    func testHostileKerasFilesAreRefused() throws {
        let folder = Fixtures.path("hostile")
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/expected.json"))) as? [String: String])
        XCTAssertGreaterThanOrEqual(expected.count, 10)
        let out = try makeTemporaryFolder("mien-hostile").appendingPathComponent("x.mien").path
        for (name, fragment) in expected.sorted(by: { $0.key < $1.key }) {
            let path = "\(folder)/\(name)"
            try assertRefused(["inspect", path], [path + ": ", fragment])
            try assertRefused(["export", path, "--output", out], [path + ": ", fragment])
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written for \(name)")
        }
        try assertRefused(["predict", "\(folder)/heap_flip.k3.h5", face], ["heap_flip.k3.h5: the HDF5 library crashed"])
    }

    /// Keras predicts NaN from NaN weights, and so does Mien: JSON null (JSON has no NaN),
    /// no label, a warning; evaluation refuses to make up metrics from it.
    func testNonFiniteScoresAreNullNotAMadeUpLabel() throws {
        let model = Fixtures.path("hostile/nan_output.k3.h5")
        let result = try runMien(["predict", model, face, "--image-size", "8"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let output = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        XCTAssertTrue(output[0]["label"] is NSNull, result.stdout)
        XCTAssertEqual((output[0]["scores"] as? [Any])?.count, 2)
        XCTAssertTrue((output[0]["scores"] as? [Any])?.allSatisfy { $0 is NSNull } ?? false, result.stdout)
        XCTAssertTrue(result.stderr.hasPrefix("warning: \(face): the model's scores are not finite"), result.stderr)
        let clean = Fixtures.packageRoot.appendingPathComponent("Samples/fer2013/test").path
        try assertRefused(["evaluate", model, "--data", clean, "--classes", "angry,happy", "--image-size", "48"],
                          ["scores for this face are not finite"])
    }

    /// Every file the mutation harness made mien crash on, run out of memory or hang
    /// (Tests/Fixtures/hostile/harness, manifest.json): now one clean error each.
    func testHarnessCrashersAreCleanErrors() throws {
        struct Entry: Decodable { var file: String; var weights: String? }
        let folder = Fixtures.path("hostile/harness")
        let entries = try JSONDecoder().decode([Entry].self, from: Data(contentsOf: URL(fileURLWithPath: "\(folder)/manifest.json")))
        XCTAssertGreaterThanOrEqual(entries.count, 10)
        let out = try makeTemporaryFolder("mien-cli-corpus").appendingPathComponent("x.mien").path
        for entry in entries {
            let path = "\(folder)/\(entry.file)"
            let arguments = path.hasSuffix(".mien") ? ["export", path, "--output", out]
                : ["inspect", path] + (entry.weights.map { ["--weights", "\(folder)/\($0)"] } ?? [])
            // The error names the file at fault: the model, or for a pair either file.
            try assertRefused(arguments, [entry.weights == nil ? path + ": " : folder + "/"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), entry.file)
        }
    }

    /// Class 5: what is not a regular file is refused at once, never read (a FIFO would block
    /// forever, /dev/zero never ends).
    func testFIFOsDevicesAndFoldersAreRefused() throws {
        let folder = try makeTemporaryFolder("mien-fifo")
        let fifo = folder.appendingPathComponent("x.jpg").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let zero = folder.appendingPathComponent("zero.jpg").path
        try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
        let fifoModel = folder.appendingPathComponent("model.h5").path
        XCTAssertEqual(mkfifo(fifoModel, 0o644), 0)

        try assertRefused(["predict", softmax, fifo], [fifo + ": ", "FIFO"])
        try assertRefused(["predict", softmax, zero], [zero + ": ", "character device"])
        try assertRefused(["predict", fifoModel, face], [fifoModel + ": ", "FIFO"])
        try assertRefused(["inspect", fifoModel], [fifoModel + ": ", "FIFO"])
        try assertRefused(["predict", softmax, folder.path + "/missing.jpg"], ["missing.jpg: ", "no such file"])

        // A FIFO in a class folder: skipped with a warning, or the error with --strict.
        let data = folder.appendingPathComponent("data")
        for name in ["angry", "fear", "happy"] {
            try FileManager.default.createDirectory(at: data.appendingPathComponent(name), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: face, toPath: data.appendingPathComponent("\(name)/a.jpg").path)
        }
        let trap = data.appendingPathComponent("happy/trap.jpg").path
        XCTAssertEqual(mkfifo(trap, 0o644), 0)
        let model = folder.appendingPathComponent("m.mien").path
        XCTAssertEqual(try runMien(["export", softmax, "--output", model, "--classes", "angry,fear,happy"]).status, 0)
        let strict = try runMien(["evaluate", model, "--data", data.path, "--classes", "angry,fear,happy",
                                  "--strict"], timeout: 60)
        XCTAssertNotEqual(strict.status, 0)
        XCTAssertTrue(strict.stderr.contains(trap), strict.stderr)
    }

    /// Class 6: options are checked before any file is read, naming the option and its range;
    /// negative numbers are taken as values.
    func testOptionsOutOfRangeAreRefusedFirst() throws {
        let missing = "/nonexistent/model.h5"   // never opened: the options fail first
        let cases: [([String], String)] = [
            (["predict", missing, face, "--top=-1"], "--top must be in 1..."),
            (["predict", missing, face, "--top", "-1"], "--top must be in 1..."),
            (["predict", missing, face, "--batch-size", "9223372036854775807"], "--batch-size must be in 1...4096"),
            (["predict", missing, face, "--image-channels", "2"], "--image-channels must be 1 or 3"),
            (["predict", missing, face, "--input-size", "100000"], "--input-size must be in 1...4096"),
            (["predict", missing, face, "--classes", "a,,b"], "empty class name"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--classes", "happy"], "--classes needs at least 2"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--classes", "happy,happy"], "names a class twice"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--momentum", "2"], "--momentum must be in 0.0...1.0"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--momentum", "-1"], "--momentum must be in 0.0...1.0"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--momentum", "nan"], "--momentum must be in 0.0...1.0"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--learning-rate", "-0.1"], "--learning-rate must be positive"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--fine-tune-learning-rate", "nan"], "--fine-tune-learning-rate must be a finite number"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--fine-tune-learning-rate", "0"], "--fine-tune-learning-rate must be positive"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--fine-tune-learning-rate", "inf"], "--fine-tune-learning-rate must be a finite number"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--fine-tune-epochs", "-1"], "--fine-tune-epochs must be in 0...100000"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--fine-tune-from", ""], "--fine-tune-from needs a layer name"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--model", "m.h5", "--rescale", "nan"], "--rescale must be a finite number"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--model", "m.h5", "--rescale", "-1"], "--rescale must be positive"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--from-scratch"], "--from-scratch and --rescale are for --model"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--model", "m.h5", "--features-from", "x"], "--model trains the model as it is"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--head", "Dense(0)"], "'units' is 0"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--head", "Dropout(1)"], "dropout rate 1.0"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--batch-size", "9223372036854775807"], "--batch-size must be in 1...65536"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--input-size", "100000"], "--input-size must be in 32...1024"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--cached-views", "1000000000"], "--cached-views must be in 1...64"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--validation-split", "1"], "--validation-split must be in [0, 1)"),
            (["train", "--data", faces, "--output", "/tmp/x.mien", "--realigned", "/nonexistent/aligned"], "--realigned '/nonexistent/aligned' is not a folder"),
            (["train", "--data", Fixtures.path("faces/fer2013.csv"), "--output", "/tmp/x.mien", "--realigned", faces], "--realigned matches faces by file name: --data must be a folder"),
            (["bench", missing, "--seconds", "0"], "--seconds must be more than 0"),
            (["bench", missing, "--threads", "-2"], "--threads must be in 1...1024"),
        ]
        for (arguments, fragment) in cases {
            try assertRefused(arguments, [fragment], status: 64)
        }
        // Pooling depends on the backbone, so it is checked when the backbone is read, but
        // still before any face.
        let stderr = try assertRefused(["train", "--data", faces, "--output", "/tmp/x.mien",
                                        "--head", "AveragePooling2D(0)"], ["'pool_size' is (0, 0)"])
        XCTAssertFalse(stderr.contains("features"), stderr)
        // Keras's usual `x / 127.5 - 1`: a negative value is the option's value.
        let negative = try runMien(["predict", softmax, face, "--scale", "0.00784", "--offset", "-1"])
        XCTAssertEqual(negative.status, 0, negative.stderr)
        // So is a class name that starts with a dash.
        let dashed = try runMien(["predict", softmax, face, "--classes", "-a,b,c"])
        XCTAssertEqual(dashed.status, 0, dashed.stderr)
        XCTAssertTrue(["\"-a\"", "\"b\"", "\"c\""].contains { dashed.stdout.contains($0) }, dashed.stdout)
    }

    /// Class 7: values that used to be accepted with wrong results.
    func testValuesThatGaveWrongResultsAreRefused() throws {
        for threshold in ["nan", "2", "-1"] {
            try assertRefused(["predict", softmax, face, "--threshold", threshold], ["--threshold must be in 0.0...1.0"])
            try assertRefused(["evaluate", softmax, "--data", faces, "--threshold", threshold], ["--threshold"])
        }
        try assertRefused(["predict", softmax, face, "--scale", "nan"], ["--scale must be a finite number"])
        try assertRefused(["predict", softmax, face, "--offset", "inf"], ["--offset must be a finite number"])
        try assertRefused(["train", "--data", faces, "--output", "/tmp/x.mien", "--head", "Dense(4, units=5)"],
                          ["argument 'units' twice"])
        try assertRefused(["train", "--data", faces, "--output", "/tmp/x.mien", "--usage", "PublicTest"],
                          ["--usage selects rows of a fer2013.csv", "is a folder"])
        try assertRefused(["evaluate", softmax, "--data", faces, "--usage", "Training"], ["is a folder"])
        // --classes must name as many classes as the model gives (it used to trap).
        try assertRefused(["evaluate", softmax, "--data", faces, "--classes", "happy"],
                          ["--classes names 1 classes", "gives 3"])
        try assertRefused(["predict", softmax, face, "--classes", "a,b"], ["--classes names 2 classes"])
        try assertRefused(["predict", softmax, face, "--test-time-augmentation", "flip"],
                          ["test-time-augmentation", "flip"])
        // A model that averages with the mirror image has no Keras form: export refuses it
        // unless told to drop the averaging, and writes nothing.
        let folder = try makeTemporaryFolder("mien-cli-tta")
        let mirror = folder.appendingPathComponent("m.mien").path, keras = folder.appendingPathComponent("k.h5").path
        XCTAssertEqual(try runMien(["export", softmax, "--output", mirror, "--test-time-augmentation", "mirror"]).status, 0)
        try assertRefused(["export", mirror, "--keras", keras], [mirror + ": the model averages each prediction with the mirror image's"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: keras))
        XCTAssertEqual(try runMien(["export", mirror, "--keras", keras, "--test-time-augmentation", "none"]).status, 0)
    }

    /// Class 8: a head layer named with a '/' (which Keras 3 refuses) is refused before
    /// training; a tf.keras 2 model may name a layer "a/b" (harness run 67, DenseNet's
    /// `conv1/conv`), and its `.mien` file reads back predicting the same.
    func testSlashesInLayerNames() throws {
        try assertRefused(["train", "--data", faces, "--output", "/tmp/x.mien", "--head", #"Dense(4, name="a/b")"#],
                          ["name must be a non-empty string without '/'"])
        let model = Fixtures.path("hostile/harness/00067-sequential_cnn.k2.h5")
        let out = try makeTemporaryFolder("mien-cli-slash").appendingPathComponent("x.mien").path
        let export = try runMien(["export", model, "--output", out])
        XCTAssertEqual(export.status, 0, export.stderr)
        let face = Fixtures.path("faces/folder/train/happy/Training_10019449.jpg")
        let fromKeras = try runMien(["predict", model, face, "--format", "csv"])
        let fromMien = try runMien(["predict", out, face, "--format", "csv"])
        XCTAssertEqual(fromKeras.status, 0, fromKeras.stderr)
        XCTAssertEqual(fromMien.stdout.split(separator: "\n").last.map { $0.split(separator: ",").dropFirst(2).map { Float($0)! } },
                       fromKeras.stdout.split(separator: "\n").last.map { $0.split(separator: ",").dropFirst(2).map { Float($0)! } })
    }
}
