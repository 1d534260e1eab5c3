import Foundation
import MienKeras
import MienKerasConfig
import MienModelFile
import MienNN
import MienTestSupport
import XCTest

/// The `.mien` file: what is written is what is read, and a hostile file is refused with
/// an error naming the problem, never a crash.
final class MienFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder("mien-file-tests")
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func imported(_ fixture: String) throws -> Graph {
        try KerasModel(contentsOf: Fixtures.path("keras/\(fixture).h5")).graph
    }

    /// Export → load → predict gives bit-identical outputs, for every Keras fixture.
    func testRoundTripIsBitIdenticalForEveryFixture() throws {
        let fixtures = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("keras"))
            .filter { $0.hasSuffix(".io.h5") }.map { String($0.dropLast(".io.h5".count)) }.sorted()
        for fixture in fixtures {
            let graph = try imported(fixture)
            try MienFile.write(MienModel(graph: graph, source: fixture), to: path("m.mien"))
            let loaded = try MienFile.read(contentsOf: path("m.mien"))
            let inputs = try Golden("keras/\(fixture).io.h5").inputs
            XCTAssertEqual(try loaded.graph.forward(inputs), try graph.forward(inputs), fixture)
            XCTAssertEqual(loaded.source, fixture)
        }
    }

    /// tf.keras allows a `/` in a layer name (DenseNet's `conv1/conv`) and a `%`: such a
    /// model, nested too, writes to `.mien` and reads back computing the same.
    func testLayerNamesWithSlashesRoundTrip() throws {
        func renamed(_ graph: Graph) throws -> Graph {
            try graph.mapLayers { layer in
                var layer = layer
                if !(layer is InputLayer) { layer.name = "block%1/" + layer.name + "/conv" }
                return layer
            }
        }
        for fixture in ["dense_mlp.k2", "nested_mixed.k2"] {
            let graph = try renamed(try imported(fixture))
            XCTAssertTrue(graph.parameters.allSatisfy { $0.name.hasPrefix("block%251%2F") }, fixture)
            try MienFile.write(MienModel(graph: graph), to: path("slash.mien"))
            let loaded = try MienFile.read(contentsOf: path("slash.mien"))
            XCTAssertEqual(loaded.graph.layers.map(\.name), graph.layers.map(\.name), fixture)
            let inputs = try Golden("keras/\(fixture).io.h5").inputs
            XCTAssertEqual(try loaded.graph.forward(inputs), try graph.forward(inputs), fixture)
        }
    }

    /// The bundled backbone with an adapter, classes and training settings, folded for
    /// inference: the file reproduces the in-memory model exactly, and the folded model
    /// the unfolded one within 1e-5.
    func testBackboneWithAdapterFoldedRoundTrip() throws {
        let backbone = try KerasModel(contentsOf: Fixtures.packageRoot
            .appendingPathComponent("Weights/efficientnet_lite0_notop.h5").path).graph
        let model = MienModel(graph: try backbone.optimizedForInference(), inputAdapter: .fer(size: 96),
                              classes: ["angry", "happy"], source: "efficientnet_lite0_notop.h5",
                              training: ["epochs": 3])
        XCTAssertFalse(model.graph.layers.contains { $0 is BatchNormalization })
        try MienFile.write(model, to: path("b.mien"))
        let loaded = try MienFile.read(contentsOf: path("b.mien"))
        XCTAssertEqual(loaded.inputAdapter, model.inputAdapter)
        XCTAssertEqual(loaded.classes, ["angry", "happy"])
        XCTAssertEqual(loaded.training, ["epochs": 3])
        let faces = try Golden("efficientnet/resize_gray.io.h5").inputs[0]
        let fromFile = try loaded.fullGraph().forward([faces])
        XCTAssertEqual(fromFile, try model.fullGraph().forward([faces]))
        let unfolded = try InputAdapter.fer(size: 96).prepended(to: backbone).forward([faces])
        if let bad = mismatch(fromFile, unfolded, Tolerance(relative: 1e-5)) { XCTFail("folding: \(bad)") }
    }

    func testWriteLeavesNoTemporaryFiles() throws {
        try MienFile.write(MienModel(graph: try imported("dense_mlp.k3")), to: path("x.mien"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["x.mien"])
    }

    // MARK: Hostile files: each its own error

    /// The names of sequential_cnn.k3's ten outputs.
    let tenClasses = (0..<10).map { "class\($0)" }

    /// A valid file's tensors and metadata, to be spoiled one way at a time.
    func parts() throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        try MienFile.write(MienModel(graph: try imported("sequential_cnn.k3"), classes: tenClasses), to: path("ok.mien"))
        let file = try SafeTensorsFile(path: path("ok.mien"))
        return (try file.tensors.map { ($0.name, try file.tensor($0.name)) }, file.metadata)
    }

    func assertRefused(_ tensors: [(name: String, tensor: Tensor)], _ metadata: [String: String], _ text: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let target = path("bad.mien")
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: target)
        XCTAssertThrowsError(try MienFile.read(contentsOf: target), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(target), "names the file: \(message)", file: file, line: line)
            XCTAssertTrue(message.contains(text), "'\(message)' should say '\(text)'", file: file, line: line)
        }
    }

    func testGraphNamingAMissingTensor() throws {
        var (tensors, metadata) = try parts()
        tensors.removeLast()
        try assertRefused(tensors, metadata, "which the file lacks")
    }

    func testTensorOfTheWrongShape() throws {
        var (tensors, metadata) = try parts()
        tensors[0].tensor = Tensor(zeros: [5, 5, 3, 8])
        try assertRefused(tensors, metadata, "has shape [5, 5, 3, 8]")
    }

    func testTensorTheGraphDoesNotHave() throws {
        var (tensors, metadata) = try parts()
        tensors.append((name: "stray/kernel", tensor: Tensor(zeros: [2])))
        try assertRefused(tensors, metadata, "'stray/kernel' belongs to no weight")
    }

    func testBadGraphJSON() throws {
        var (tensors, metadata) = try parts()
        metadata["graph"] = "{not json"
        try assertRefused(tensors, metadata, "'graph' is not valid JSON")
    }

    func testUnknownLayerInGraph() throws {
        var (tensors, metadata) = try parts()
        metadata["graph"] = metadata["graph"]!.replacingOccurrences(of: "\"MaxPooling2D\"", with: "\"Teleport2D\"")
        try assertRefused(tensors, metadata, "'Teleport2D' is not supported")
    }

    func testDanglingConnectionInGraph() throws {
        let graph = try imported("functional_branches.k3")
        try MienFile.write(MienModel(graph: graph), to: path("f.mien"))
        let file = try SafeTensorsFile(path: path("f.mien"))
        var metadata = file.metadata
        metadata["graph"] = metadata["graph"]!.replacingOccurrences(of: "[\"add\",0,0,{}]", with: "[\"nowhere\",0,0,{}]")
        XCTAssertNotEqual(metadata["graph"], file.metadata["graph"])
        try assertRefused(try file.tensors.map { ($0.name, try file.tensor($0.name)) }, metadata, "missing layer 'nowhere'")
    }

    func testShapeMismatchInGraph() throws {
        var (tensors, metadata) = try parts()
        metadata["graph"] = metadata["graph"]!.replacingOccurrences(of: "\"units\":10", with: "\"units\":11")
        try assertRefused(tensors, metadata, "dense")
    }

    func testNotAMienFile() throws {
        var (tensors, metadata) = try parts()
        metadata["format"] = "pt"
        try assertRefused(tensors, metadata, "not a Mien model file")
    }

    func testNewerFormatVersion() throws {
        var (tensors, metadata) = try parts()
        metadata["format_version"] = "99"
        try assertRefused(tensors, metadata, "newer than this Mien reads")
    }

    /// Test-time augmentation round-trips; a file that records it is version 2, so a Mien
    /// that cannot apply it refuses the file instead of predicting something else.
    func testTestTimeAugmentationRoundTrips() throws {
        var model = MienModel(graph: try imported("dense_mlp.k3"), classes: [])
        let plainPath = path("plain.mien"), mirrorPath = path("mirror.mien")
        try MienFile.write(model, to: plainPath)
        model.testTimeAugmentation = .mirror
        try MienFile.write(model, to: mirrorPath)
        XCTAssertEqual(try MienFile.read(contentsOf: plainPath).testTimeAugmentation, .none)
        XCTAssertEqual(try MienFile.read(contentsOf: mirrorPath).testTimeAugmentation, .mirror)
        XCTAssertEqual(try SafeTensorsFile(path: plainPath).metadata["format_version"], "1")
        XCTAssertEqual(try SafeTensorsFile(path: mirrorPath).metadata["format_version"], "2")
        var (tensors, metadata) = try parts()
        metadata["test_time_augmentation"] = "ten_crop"
        try assertRefused(tensors, metadata, "'test_time_augmentation' is 'ten_crop'")
    }

    func testAdapterThatDoesNotFit() throws {
        var (tensors, metadata) = try parts()
        metadata["input_adapter"] = #"{"inputSize":[48,48,1],"interpolation":"bilinear","name":"input_adapter","offset":0,"outputSize":[96,96,3],"scale":1,"trainable":false}"#
        try assertRefused(tensors, metadata, "input adapter does not fit")
    }

    func testTruncatedFile() throws {
        _ = try parts()
        let data = try Data(contentsOf: URL(fileURLWithPath: path("ok.mien")))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path("cut.mien")))
        XCTAssertThrowsError(try MienFile.read(contentsOf: path("cut.mien"))) { error in
            XCTAssertTrue("\(error)".contains(self.path("cut.mien")), "\(error)")
        }
    }

    /// Class 3 of the hostile-input issue: the adapter's sizes are untrusted. 2^62 overflowed in
    /// the Predictor, 100000×100000 allocated 40 GB, and `mien export` copied such a file.
    func testAdapterSizesAreChecked() throws {
        var (tensors, metadata) = try parts()
        func adapter(_ input: String, _ output: String) -> String {
            #"{"inputSize":\#(input),"interpolation":"bilinear","name":"input_adapter","offset":0,"outputSize":\#(output),"scale":1,"trainable":false}"#
        }
        // The graph of sequential_cnn.k3 takes 16x16x3 images.
        metadata["input_adapter"] = adapter("[4611686018427387904,4611686018427387904,1]", "[16,16,3]")
        try assertRefused(tensors, metadata, "above Mien's limit")
        metadata["input_adapter"] = adapter("[100000,100000,1]", "[16,16,3]")
        try assertRefused(tensors, metadata, "values per image")
        metadata["input_adapter"] = adapter("[0,48,1]", "[16,16,3]")
        try assertRefused(tensors, metadata, "empty or negative")
        metadata["input_adapter"] = adapter("[48,48,1]", "[16,16,3]")
        try SafeTensorsWriter.write(tensors, metadata: metadata, to: path("fine.mien"))
        XCTAssertNoThrow(try MienFile.read(contentsOf: path("fine.mien")))
    }

    /// Class 10: malformed metadata is an error, never silently dropped.
    func testMalformedClassesAndTrainingAreRefused() throws {
        var (tensors, metadata) = try parts()
        metadata["classes"] = #"["a", 7]"#
        try assertRefused(tensors, metadata, "'classes' is not a list of distinct, non-empty class names")
        metadata["classes"] = #"{"a": 1}"#
        try assertRefused(tensors, metadata, "'classes' is not a list of distinct, non-empty class names")
        metadata["classes"] = #"["a", "a"]"#
        try assertRefused(tensors, metadata, "'classes' is not a list of distinct, non-empty class names")
        metadata["classes"] = #"["a", "b"]"#
        try assertRefused(tensors, metadata, "names 2 classes, but the model gives 10")
        (tensors, metadata) = try parts()
        metadata["training"] = "{broken"
        try assertRefused(tensors, metadata, "'training' is not valid JSON")
        (tensors, metadata) = try parts()
        metadata["keras_version"] = "7"
        try assertRefused(tensors, metadata, "not 2 or 3")
        metadata["keras_version"] = "3"
        metadata["format_version"] = "-1"
        try assertRefused(tensors, metadata, "not a version number")
    }

    /// Class 8: a model whose file would not load again is not written (two layers of one
    /// name, whose weights collide); nothing is left at the path.
    func testUnreadableModelIsNotWritten() throws {
        var graph = try imported("dense_mlp.k3")
        let indices = graph.layers.indices.filter { !graph.layers[$0].parameters.isEmpty }
        XCTAssertGreaterThanOrEqual(indices.count, 2)
        graph.layers[indices[1]].name = graph.layers[indices[0]].name
        let target = path("slash.mien")
        XCTAssertThrowsError(try MienFile.write(MienModel(graph: graph), to: target)) { error in
            XCTAssertTrue("\(error)".hasPrefix(target + ": "), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }

    /// The same checks on a file held in memory (what the fuzz target drives).
    func testReadFromBytes() throws {
        _ = try parts()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("ok.mien"))))
        XCTAssertEqual(try MienFile.read(bytes: bytes).classes, tenClasses)
        XCTAssertThrowsError(try MienFile.read(bytes: Array(bytes.prefix(100)), path: "cut")) { error in
            XCTAssertTrue("\(error)".hasPrefix("cut: "), "\(error)")
        }
    }
}
