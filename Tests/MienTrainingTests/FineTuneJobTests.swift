import MienFaces
import Foundation
import MienKeras
import MienKerasConfig
import MienModelFile
import MienNN
import MienTestSupport
@testable import MienTraining
import XCTest

/// The whole fine-tuning job on a few fixture faces with the bundled backbone at 32×32
/// (its smallest input), so it runs in seconds even in a debug build.
final class FineTuneJobTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder("mien-finetune")
    }

    static let backbone = Fixtures.packageRoot.appendingPathComponent("Weights/efficientnet_lite0_notop.h5").path
    static let data = Fixtures.path("faces/folder/train")

    func settings(epochs: Int = 3, learningRate: Float = 0.01, augment: Bool = false) -> FineTuneSettings {
        FineTuneSettings(backbone: Self.backbone, inputSize: 32, classes: ["angry", "happy"], epochs: epochs,
                         batchSize: 2, learningRate: learningRate,
                         augmentation: augment ? .standard : .none, cachedViews: augment ? 2 : 1,
                         validationSplit: 0.34, seed: 7, patience: nil, head: "Dense(4, relu), Dropout(0.2)")
    }

    func job(_ settings: FineTuneSettings, output: String = "m.mien", resume: Bool = false,
             data: String = FineTuneJobTests.data, strict: Bool = false) -> FineTuneJob {
        FineTuneJob(settings: settings, data: data, usage: nil, strict: strict,
                    output: folder.appendingPathComponent(output).path, resume: resume)
    }

    func testTrainsAModelThatTakesRawFaces() throws {
        var warnings: [String] = []
        let job = job(settings(augment: true))
        try job.run { if case .warning(let w) = $0 { warnings.append(w) } }
        // The fixture's truncated JPEG is skipped, and named.
        XCTAssertTrue(warnings.contains { $0.contains("truncated.jpg") }, "\(warnings)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: job.checkpointPath), "the checkpoint goes once the model is written")
        let history = try JSONDecoder().decode(History.self, from: Data(contentsOf: URL(fileURLWithPath: job.historyPath)))
        XCTAssertEqual(history.epochs.count, 3)
        // The split file names the validation faces: the dataset's own split.
        let split = try JSONDecoder().decode(FineTuneJob.Split.self, from: Data(contentsOf: URL(fileURLWithPath: job.splitPath)))
        let expected = try FaceDataset.load(Self.data, classes: ["angry", "happy"]).split(validationFraction: 0.34, seed: 7)
        XCTAssertEqual(split.validation, expected.validation.faces.map(\.source))
        XCTAssertFalse(split.validation.isEmpty)
        let predictor = try Predictor(contentsOf: job.output)
        XCTAssertEqual(predictor.model.classes, ["angry", "happy"])
        XCTAssertEqual(predictor.imageSize.height, 48)
        XCTAssertEqual(predictor.imageSize.channels, 1)
        let face = try MienFaces.FaceDataset.load(Self.data, classes: ["happy"]).faces[0]
        let prediction = try predictor.predict(image: .init(width: 48, height: 48, channels: 1, pixels: face.pixels))
        XCTAssertEqual(prediction.scores.count, 1)
        XCTAssertTrue((0...1).contains(prediction.scores[0]))
    }

    /// `--realigned`: each face found in the other folder trains and validates in both
    /// framings; the split, and the split file, stay those of the data's own faces.
    func testRealignedFacesJoinTheirOwnSideOfTheSplit() throws {
        // The other framing: each class's files with the next file's content, one left out.
        let other = folder.appendingPathComponent("realigned")
        var copied = 0
        for label in ["angry", "happy"] {
            let source = URL(fileURLWithPath: Self.data).appendingPathComponent(label)
            let names = try FileManager.default.contentsOfDirectory(atPath: source.path)
                .filter { $0.hasPrefix("Training_") }.sorted()
            try FileManager.default.createDirectory(at: other.appendingPathComponent(label), withIntermediateDirectories: true)
            for (i, name) in names.enumerated().dropLast() {
                try FileManager.default.copyItem(at: source.appendingPathComponent(names[i + 1]),
                                                 to: other.appendingPathComponent("\(label)/\(name)"))
                copied += 1
            }
        }
        var job = job(settings(epochs: 1))
        job.realigned = other.path
        var events: [FineTuneEvent] = []
        let (_, _, validation) = try job.run { events.append($0) }
        let own = try FaceDataset.load(Self.data, classes: ["angry", "happy"]).split(validationFraction: 0.34, seed: 7)
        var counts: [Int]?, added: Int?
        for event in events {
            if case .realigned(let count, let total, let path) = event {
                added = count
                XCTAssertEqual(total, own.train.count + own.validation.count)
                XCTAssertEqual(path, other.path)
            }
            if case .dataset(let train, let validation, _) = event { counts = zip(train, validation).map(+) }
        }
        XCTAssertEqual(added, copied)
        XCTAssertEqual(counts.map { $0.reduce(0, +) }, own.train.count + own.validation.count + copied)
        // The validation faces are the data's own, then their other framing, from the same files' names.
        XCTAssertEqual(Array(validation.faces.prefix(own.validation.count)), own.validation.faces)
        let stems = { (faces: ArraySlice<Face>) in faces.map { URL(fileURLWithPath: $0.source).lastPathComponent } }
        XCTAssertTrue(Set(stems(validation.faces.dropFirst(own.validation.count)))
            .isSubset(of: Set(stems(own.validation.faces[...]))))
        let split = try JSONDecoder().decode(FineTuneJob.Split.self, from: Data(contentsOf: URL(fileURLWithPath: job.splitPath)))
        XCTAssertEqual(split.validation, own.validation.faces.map(\.source))

        // The data folder itself holds no face framed anew.
        var same = self.job(settings(epochs: 1), output: "same.mien")
        same.realigned = Self.data
        XCTAssertThrowsError(try same.run { _ in }) { error in
            XCTAssertTrue("\(error)".contains("--realigned \(Self.data): holds none of the faces"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: same.output))
        // A folder without the class folders: the error names the option (the fuzzer's `/`).
        var root = self.job(settings(epochs: 1), output: "root.mien")
        root.realigned = "/"
        XCTAssertThrowsError(try root.run { _ in }) { error in
            XCTAssertTrue("\(error)".hasPrefix("--realigned /: no class folder 'angry'"), "\(error)")
        }
    }

    /// A head with spatial pooling on a mid-level map: the pooling runs with the frozen
    /// backbone, and the written model computes what extraction and head computed in training.
    func testSpatialHeadOnAnInnerLayer() throws {
        var s = settings(epochs: 2)
        s.inputSize = 64
        s.featuresFrom = "block5c_add"
        s.head = "AveragePooling2D(2), Flatten, Dense(4, relu), Dropout(0.2)"
        let job = job(s)
        let (model, _, _) = try job.run { _ in }
        let extractor = try FeatureExtractor(backbone: try KerasModel(contentsOf: Self.backbone).graph, inputSize: 64,
                                             featuresFrom: "block5c_add", head: try HeadSpec(s.head))
        XCTAssertEqual(extractor.featureCount, 2 * 2 * 112)
        XCTAssertEqual(extractor.pooling.map(\.kerasClass), ["AveragePooling2D", "Flatten"])
        let faces = try FaceDataset.load(Self.data, classes: ["angry", "happy"]).faces.prefix(3)
        let features = try extractor.features(count: faces.count, face: { faces[$0].pixels.map(Float.init) })
        let batch = Tensor(shape: [faces.count, 48, 48, 1], scalars: faces.flatMap { $0.pixels.map(Float.init) })
        let adapted = try extractor.adapter.forward([batch])
        // The written model, cut after its pooling, gives the features the head was trained on.
        let pooled = try XCTUnwrap(try model.graph.truncated(at: "flatten"))
        assertClose(try pooled.forward([adapted]), features, Tolerance(relative: 1e-5), "pooled features")
        let predictor = try Predictor(contentsOf: job.output)
        assertClose(try predictor.predict(batch), try model.graph.forward([adapted]), Tolerance(relative: 1e-5), "predictions")
    }

    /// Stopped after epoch 2 and resumed, a run ends with exactly the weights of a run
    /// that was never interrupted.
    func testResumedRunEndsIdentically() throws {
        let whole = job(settings(epochs: 4), output: "whole.mien")
        try whole.run { _ in }
        struct Interrupt: Error {}
        let parts = job(settings(epochs: 4), output: "parts.mien")
        XCTAssertThrowsError(try parts.run { event in
            if case .epoch(let record, _, _) = event, record.epoch == 2 { throw Interrupt() }
        })
        XCTAssertTrue(FileManager.default.fileExists(atPath: parts.checkpointPath))
        XCTAssertFalse(FileManager.default.fileExists(atPath: parts.output), "no model from an interrupted run")
        var resumedFrom: Int?
        try job(settings(epochs: 4), output: "parts.mien", resume: true).run {
            if case .resumed(let epoch) = $0 { resumedFrom = epoch }
        }
        XCTAssertEqual(resumedFrom, 2)
        let a = try MienFile.read(contentsOf: whole.output).graph.parameters
        let b = try MienFile.read(contentsOf: parts.output).graph.parameters
        XCTAssertEqual(a.map(\.name), b.map(\.name))
        XCTAssertEqual(a.map(\.value), b.map(\.value))
    }

    func testResumeRefusesOtherSettings() throws {
        struct Interrupt: Error {}
        let first = job(settings(epochs: 3), output: "x.mien")
        XCTAssertThrowsError(try first.run { if case .epoch = $0 { throw Interrupt() } })
        XCTAssertThrowsError(try job(settings(epochs: 5), output: "x.mien", resume: true).run { _ in }) { error in
            XCTAssertTrue("\(error)".contains("other settings"), "\(error)")
        }
    }

    /// An error from the progress callback stops the job (it used to be swallowed per batch).
    func testProgressErrorsStopTheJob() throws {
        struct Stop: Error {}
        let job = job(settings(epochs: 2), output: "stop.mien")
        XCTAssertThrowsError(try job.run { if case .batch = $0 { throw Stop() } }) { error in
            XCTAssertTrue(error is Stop, "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: job.output))
    }

    /// A checkpoint that does not agree with itself is refused, not "resumed" into a model
    /// that was never trained.
    func testResumeRefusesAnInconsistentCheckpoint() throws {
        struct Interrupt: Error {}
        let first = job(settings(epochs: 3), output: "y.mien")
        XCTAssertThrowsError(try first.run { if case .epoch = $0 { throw Interrupt() } })
        var (checkpoint, tensors) = try first.readCheckpoint()
        let record = checkpoint.head!.history.epochs[0]
        checkpoint.head!.history.epochs += [2, 3, 4, 5].map { var r = record; r.epoch = $0; return r }
        checkpoint.head!.nextEpoch = 6
        try CheckpointFile.write(checkpoint, tensors: tensors, to: first.checkpointPath)
        XCTAssertThrowsError(try job(settings(epochs: 3), output: "y.mien", resume: true).run { _ in }) { error in
            XCTAssertTrue("\(error)".contains("do not agree"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: first.output))
    }

    func testNonFiniteLossStopsWithoutWritingAModel() throws {
        let job = job(settings(learningRate: 1e38))
        XCTAssertThrowsError(try job.run { _ in }) { error in
            XCTAssertTrue("\(error)".contains("not finite"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: job.output))
    }

    func testBadInputs() throws {
        func refused(_ job: FineTuneJob, _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try job.run { _ in }, line: line) { error in
                XCTAssertTrue("\(error)".contains(text), "'\(error)' should say '\(text)'", line: line)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: job.output), line: line)
        }
        var s = settings()
        s.classes = ["angry", "contempt"]
        refused(job(s), "no class folder 'contempt'")
        refused(job(settings(), data: Fixtures.path("faces/empty_class")), "angry")
        refused(job(settings(), strict: true), "truncated.jpg")
        refused(job(settings(), data: "/no/such/faces"), "/no/such/faces")
        s = settings()
        s.backbone = Fixtures.path("keras/dense_mlp.k3.h5")
        refused(job(s), "does not take one image")
        s = settings()
        s.featuresFrom = "no_such_layer"
        refused(job(s), "no layer 'no_such_layer'")
    }

    // MARK: The second stage (the backbone's top unfrozen)

    func fineTuneSettings(learningRate: Float = 1e-3, epochs: Int = 2, trainBatchNorm: Bool = false) -> FineTuneSettings {
        var s = settings(epochs: 2)
        s.featuresFrom = "block6d_add"
        s.head = "Dropout(0.2)"   // a hidden ReLU layer this small can die and pass no gradient back
        s.fineTune = FineTuneStage(from: "block6d_expand_conv", learningRate: learningRate, epochs: epochs,
                                   trainBatchNorm: trainBatchNorm)
        return s
    }

    /// Both stages run; the second changes the unfrozen block and the head and nothing
    /// before the cut; its epochs are marked in the history; and a run stopped in the second
    /// stage and resumed ends with exactly the weights of an uninterrupted one.
    func testSecondStageTrainsTheTopAndResumesIdentically() throws {
        let whole = job(fineTuneSettings(), output: "whole2.mien")
        var cacheBytes = 0
        let (_, history, _) = try whole.run { if case .cache(let bytes, _, _) = $0 { cacheBytes = bytes } }
        XCTAssertEqual(history.epochs.map(\.stage), [nil, nil, 2, 2])
        XCTAssertEqual(history.epochs.map(\.epoch), [1, 2, 3, 4])
        XCTAssertEqual(cacheBytes, 9 * 192 * 2, "9 faces (6 train, 3 validation), block6c's 1×1×192 float16 values each")

        // Without validation the last epoch's weights are kept (with it, the second stage may
        // not beat the first, and the first's stay).
        var noValidation = fineTuneSettings()
        noValidation.validationSplit = 0
        let (model, _, _) = try job(noValidation, output: "last2.mien").run { _ in }
        let original = try KerasModel(contentsOf: Self.backbone).graph
        func weight(_ graph: Graph, _ path: String) throws -> Tensor {
            try XCTUnwrap(graph.parameters.first { $0.name.hasSuffix(path) }?.value, path)
        }
        let backbone = try XCTUnwrap(model.graph.layers.first { $0 is Graph } as? Graph)
        XCTAssertEqual(try weight(backbone, "block6c_expand_conv/kernel"), try weight(original, "block6c_expand_conv/kernel"))
        XCTAssertNotEqual(try weight(backbone, "block6d_expand_conv/kernel"), try weight(original, "block6d_expand_conv/kernel"))
        // BatchNormalization stays frozen by default: its statistics and weights are the original's.
        XCTAssertEqual(try weight(backbone, "block6d_expand_bn/moving_mean"), try weight(original, "block6d_expand_bn/moving_mean"))
        XCTAssertEqual(try weight(backbone, "block6d_expand_bn/gamma"), try weight(original, "block6d_expand_bn/gamma"))

        struct Interrupt: Error {}
        let parts = job(fineTuneSettings(), output: "parts2.mien")
        XCTAssertThrowsError(try parts.run { event in
            if case .epoch(let record, _, _) = event, record.epoch == 3 { throw Interrupt() }
        })
        XCTAssertNotNil(try parts.readCheckpoint().meta.fine, "the checkpoint holds the second stage")
        var resumedFrom: Int?
        try job(fineTuneSettings(), output: "parts2.mien", resume: true).run {
            if case .resumed(let epoch) = $0 { resumedFrom = epoch }
        }
        XCTAssertEqual(resumedFrom, 3)
        let a = try MienFile.read(contentsOf: whole.output).graph.parameters
        let b = try MienFile.read(contentsOf: parts.output).graph.parameters
        XCTAssertEqual(a.map(\.name), b.map(\.name))
        XCTAssertEqual(a.map(\.value), b.map(\.value))
    }

    /// `--train-batchnorm`: the unfrozen BatchNormalization layers learn and update their
    /// moving statistics.
    func testSecondStageCanTrainBatchNormalization() throws {
        var s = fineTuneSettings(epochs: 1, trainBatchNorm: true)
        s.validationSplit = 0
        let (model, _, _) = try job(s, output: "bn.mien").run { _ in }
        let original = try KerasModel(contentsOf: Self.backbone).graph
        let backbone = try XCTUnwrap(model.graph.layers.first { $0 is Graph } as? Graph)
        let path = "block6d_expand_bn/moving_mean"
        XCTAssertNotEqual(backbone.parameters.first { $0.name == path }?.value,
                          original.parameters.first { $0.name.hasSuffix(path) }?.value)
    }

    func testSecondStageBadInputs() throws {
        func refused(_ job: FineTuneJob, _ texts: [String], line: UInt = #line) {
            XCTAssertThrowsError(try job.run { _ in }, line: line) { error in
                for text in texts {
                    XCTAssertTrue("\(error)".contains(text), "'\(error)' should say '\(text)'", line: line)
                }
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: job.output), line: line)
        }
        var s = fineTuneSettings()
        s.fineTune!.from = "no_such_layer"
        refused(job(s, data: "/no/such/faces"), ["--fine-tune-from", "no layer 'no_such_layer'"])
        let headLayer = try HeadSpec(s.head).head(features: 8, classes: 2, seed: 0).layers[0].name
        s.fineTune!.from = headLayer
        refused(job(s, data: "/no/such/faces"), ["--fine-tune-from", "'\(headLayer)' is a layer of the new head"])
        // A layer without a backward pass after the cut: named with its class before any face is read.
        var graph = try KerasModel(contentsOf: Self.backbone).graph
        graph = try XCTUnwrap(try graph.truncated(at: "block6d_add"))
        graph = try graph.appending([Identity(name: "noise", kerasClass: "GaussianNoise", options: ["stddev": 0.1])])
        s = fineTuneSettings()
        s.featuresFrom = nil
        var untrainable = job(s, data: "/no/such/faces")
        untrainable.backbone = graph
        refused(untrainable, ["'noise'", "GaussianNoise", "no backward"])
        // A loss that becomes NaN in the second stage stops it; stage 1's last checkpoint stays.
        let nan = job(fineTuneSettings(learningRate: 1e38), output: "nan.mien")
        refused(nan, ["stage 2", "not finite", nan.checkpointPath])
        XCTAssertTrue(FileManager.default.fileExists(atPath: nan.checkpointPath), "the last good checkpoint is kept")
    }

    /// The activation cache stores float16, in memory or (past a size) in a mapped file that
    /// is gone from the folder at once.
    func testHalfSamples() throws {
        let values = Tensor(shape: [3, 2, 2], scalars: (0..<12).map { Float($0) * 0.37 - 2 })
        for limit in [Int.max, 0] {
            let spill = folder.appendingPathComponent("spill").path
            let cache = try HalfSamples(count: 3, sampleShape: [2, 2], spill: spill, mappedAbove: limit)
            XCTAssertEqual(cache.isMapped, limit == 0)
            XCTAssertFalse(FileManager.default.fileExists(atPath: spill))
            try cache.append(values.batch(0..<2))
            try cache.append(values.batch(2..<3))
            XCTAssertThrowsError(try cache.append(values.batch(0..<1)), "full")
            let batch = cache.batch([2, 0])
            XCTAssertEqual(batch.shape, [2, 2, 2])
            let expected = Tensor(shape: [2, 2, 2], scalars: [2, 0].flatMap { Array(values.scalars[$0 * 4..<($0 + 1) * 4]) })
            assertClose(batch, expected, Tolerance(relative: 1e-3), "float16 keeps 11 bits")
        }
    }

    // MARK: A whole imported model (`mien train --model`)

    static let cnn = Fixtures.path("gradients/step_original_cnn.h5")

    func modelSettings(fromScratch: Bool = false, trainFrom: String? = nil, classes: [String] = ["angry", "happy"]) -> FineTuneSettings {
        FineTuneSettings(backbone: Self.cnn, inputSize: 20, classes: classes, epochs: 3, batchSize: 4,
                         learningRate: 1e-3, validationSplit: 0.34, seed: 5, patience: nil, head: "",
                         model: ModelTraining(trainFrom: trainFrom, fromScratch: fromScratch, rescale: 1 / 255))
    }

    /// The original project's CNN trains as a whole: every weight moves, the written model
    /// takes raw faces, and a run stopped after epoch 1 resumes to the same weights.
    func testWholeModelTrainsAndResumesIdentically() throws {
        let saved = try KerasModel(contentsOf: Self.cnn).graph
        let whole = job(modelSettings(), output: "cnn.mien")
        let (model, history, _) = try whole.run { _ in }
        XCTAssertEqual(history.epochs.count, 3)
        XCTAssertEqual(history.epochs.map(\.stage), [nil, nil, nil])
        let trained = try XCTUnwrap(model.graph.layers.first { $0 is Graph } as? Graph)
        for name in ["conv1/kernel", "dense1/kernel", "output/bias"] {
            XCTAssertNotEqual(trained.parameters.first { $0.name == name }?.value,
                              saved.parameters.first { $0.name == name }?.value, name)
        }
        let predictor = try Predictor(contentsOf: whole.output)
        XCTAssertEqual(predictor.imageSize.height, 48)

        struct Interrupt: Error {}
        let parts = job(modelSettings(), output: "cnn-parts.mien")
        XCTAssertThrowsError(try parts.run { if case .epoch(let r, _, _) = $0, r.epoch == 1 { throw Interrupt() } })
        try job(modelSettings(), output: "cnn-parts.mien", resume: true).run { _ in }
        XCTAssertEqual(try MienFile.read(contentsOf: whole.output).graph.parameters.map(\.value),
                       try MienFile.read(contentsOf: parts.output).graph.parameters.map(\.value))
    }

    /// `--fine-tune-from` on a whole model freezes what comes before; `--from-scratch` draws
    /// new weights from the config's initializers (GlorotUniform kernels, zero biases).
    func testWholeModelFromALayerAndFromScratch() throws {
        let saved = try KerasModel(contentsOf: Self.cnn).graph
        let (model, _, _) = try job(modelSettings(trainFrom: "dense1"), output: "top.mien").run { _ in }
        let trained = try XCTUnwrap(model.graph.layers.first { $0 is Graph } as? Graph)
        XCTAssertEqual(trained.parameters.first { $0.name == "conv3/kernel" }?.value,
                       saved.parameters.first { $0.name == "conv3/kernel" }?.value, "frozen before dense1")
        XCTAssertNotEqual(trained.parameters.first { $0.name == "dense1/kernel" }?.value,
                          saved.parameters.first { $0.name == "dense1/kernel" }?.value)

        var fresh = saved
        try fresh.reinitialize(try KerasModel(contentsOf: Self.cnn).initializers, seed: 1)
        for parameter in fresh.parameters {
            if parameter.name.hasSuffix("bias") {
                XCTAssertTrue(parameter.value.scalars.allSatisfy { $0 == 0 }, parameter.name)
            } else {
                let (fanIn, fanOut) = KerasInitializer.fans(parameter.value.shape)
                let limit = Float((6 / (fanIn + fanOut)).squareRoot())
                XCTAssertTrue(parameter.value.scalars.allSatisfy { abs($0) <= limit }, parameter.name)
                XCTAssertNotEqual(parameter.value, saved.parameters.first { $0.name == parameter.name }?.value)
            }
        }
        let (scratch, history, _) = try job(modelSettings(fromScratch: true), output: "scratch.mien").run { _ in }
        XCTAssertEqual(history.epochs.count, 3)
        XCTAssertNotNil(scratch.graph.layers.first { $0 is Graph })
    }

    func testWholeModelBadInputs() throws {
        func refused(_ job: FineTuneJob, _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try job.run { _ in }, line: line) { error in
                XCTAssertTrue("\(error)".contains(text), "'\(error)' should say '\(text)'", line: line)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: job.output), line: line)
        }
        refused(job(modelSettings(classes: ["angry", "happy", "sad"]), data: "/no/such/faces"), "does not give 3 classes")
        refused(job(modelSettings(trainFrom: "no_such_layer"), data: "/no/such/faces"), "no layer 'no_such_layer'")
        var s = modelSettings()
        s.backbone = Self.backbone   // a feature extractor, not a classifier
        s.inputSize = 64
        refused(job(s, data: "/no/such/faces"), "does not give 2 classes")
    }

    func testKerasInitializers() throws {
        var generator = SeededGenerator(seed: 9, .initializer, 0)
        func moments(_ json: JSON, shape: [Int]) throws -> (mean: Double, std: Double, max: Float) {
            let values = try KerasInitializer(json, weight: "w").values(shape: shape, generator: &generator)
            let mean = values.reduce(0) { $0 + Double($1) } / Double(values.count)
            let variance = values.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count)
            return (mean, variance.squareRoot(), values.map(abs).max()!)
        }
        // he_normal on a 3×3×64→32 kernel: fan_in 576, std sqrt(2/576), truncated at 2σ of
        // the untruncated scale (Keras divides by 0.8796 so the truncated std comes out right).
        let he = try moments(.string("he_normal"), shape: [3, 3, 64, 32])
        XCTAssertEqual(he.std, (2.0 / 576).squareRoot(), accuracy: 0.03 * (2.0 / 576).squareRoot())
        XCTAssertLessThanOrEqual(Double(he.max), 2 * (2.0 / 576).squareRoot() / 0.87962566103423978 + 1e-6)
        let glorot = try moments(try JSON(parsing: #"{"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}}"#),
                                 shape: [100, 50])
        XCTAssertLessThanOrEqual(Double(glorot.max), (6.0 / 150).squareRoot())
        XCTAssertEqual(glorot.std, (2.0 / 150).squareRoot(), accuracy: 0.03 * (2.0 / 150).squareRoot())
        let constant = try moments(try JSON(parsing: #"{"class_name": "Constant", "config": {"value": 0.5}}"#), shape: [7])
        XCTAssertEqual(constant.mean, 0.5)
        XCTAssertThrowsError(try KerasInitializer(.string("orthogonal"), weight: "w")) { error in
            XCTAssertTrue("\(error)".contains("cannot draw initializer 'orthogonal'"), "\(error)")
        }
        XCTAssertThrowsError(try KerasInitializer(try JSON(parsing: #"{"class_name": "RandomNormal", "config": {"stddev": "x"}}"#), weight: "w"))
    }
}
