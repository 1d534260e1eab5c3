import MienFaceDetection
import MienFaces
import MienImages
import MienKerasConfig
import MienFiles
import MienModelFile
import MienNN
import MienTraining

/// Fuzz targets: each takes raw bytes, feeds them to the real library code and returns.
///
/// A thrown error is the correct answer to bad input, so every error is caught; a target
/// never prints. What counts as a finding is a crash (trap, signal, sanitizer report), a hang
/// (libFuzzer's `-timeout`) or memory beyond libFuzzer's `-rss_limit_mb`/`-malloc_limit_mb`.
///
/// Every target is deterministic (no clock, no randomness, no threads of its own; the
/// forward passes are too small for OpenBLAS to split). Where a target runs
/// a model (`mien`, `keras-config`) it does so only when the model's input and the whole
/// forward pass are small (`ForwardBudget`), so that one run stays in milliseconds: a model
/// the library legitimately accepts may declare a forward pass of many GFLOP, and running
/// it would make the fuzzer slow without finding anything.
public enum FuzzTargets {
    /// Every target by name (`mien-fuzz TARGET`, `Tests/Fixtures/fuzz/TARGET/`).
    public static var all: [String: (UnsafeRawBufferPointer) -> Void] {
        [
            "safetensors": safetensors,
            "mien": mien,
            "keras-config": kerasConfig,
            "head": head,
            "image": image,
            "csv": csv,
            "checkpoint": checkpoint,
            "detector-manifest": detectorManifest,
        ]
    }

    /// The names, sorted.
    public static var names: [String] { all.keys.sorted() }

    /// How far the last run got, for `mien-fuzz`'s replay lines: whether the library refused
    /// the input (threw), accepted it, or accepted it and ran the model on it.
    public enum Outcome: String, Sendable {
        case refused, accepted, ran
    }

    /// Set by every target (one thread runs the targets: libFuzzer, the replayer, XCTest).
    nonisolated(unsafe) public static var lastOutcome = Outcome.refused

    // MARK: - Targets

    /// `SafeTensorsFile(bytes:)`, then every tensor read as Floats.
    public static func safetensors(_ data: UnsafeRawBufferPointer) {
        lastOutcome = .refused
        guard let file = try? SafeTensorsFile(bytes: Array(data), path: "fuzz.safetensors") else { return }
        lastOutcome = .accepted
        for info in file.tensors {
            _ = try? file.tensor(info.name)
        }
        _ = file.info("no such tensor")
        _ = try? file.tensor("no such tensor")
    }

    /// `MienFile.read(bytes:)`; if the model loads, a `Predictor`, and for a small input one
    /// prediction on a zero image of the model's `imageShape`.
    public static func mien(_ data: UnsafeRawBufferPointer) {
        lastOutcome = .refused
        guard let model = try? MienFile.read(bytes: Array(data), path: "fuzz.mien") else { return }
        _ = model.outputNames
        guard let predictor = try? Predictor(model: model) else { return }
        lastOutcome = .accepted
        let (h, w, c) = predictor.imageSize
        let input = [1, h, w, c]
        guard let values = CheckedSize.product(input), values <= ForwardBudget.maxInputValues,
              ForwardBudget.allows(predictor.graph, inputs: [input]) else { return }
        guard let output = try? predictor.predict(Tensor(zeros: input)) else { return }
        lastOutcome = .ran
        _ = predictor.prediction(output.scalars)
    }

    /// The bytes as UTF-8 text, parsed as JSON and built as a Keras `model_config` with a
    /// budget of 2^20 weights; Keras 3 when the first byte is odd (`{`), Keras 2 when it is
    /// even (a leading space or newline). A model that builds runs forward on zero inputs of
    /// batch 1 when its inputs are known and small, and is written back as a config.
    public static func kerasConfig(_ data: UnsafeRawBufferPointer) {
        lastOutcome = .refused
        let major = (data.first ?? 0) & 1 == 1 ? 3 : 2
        let text = String(decoding: data, as: UTF8.self)
        guard let json = try? JSON(parsing: text) else { return }
        let builder = ModelBuilder(file: "fuzz", kerasMajor: major,
                                   budget: WeightBudget(limit: 1 << 20, reason: "fuzz"))
        guard let graph = try? builder.buildModel(json) else { return }
        lastOutcome = .accepted
        if let written = try? KerasConfigWriter(kerasMajor: major).modelConfig(graph) {
            _ = written.text
        }
        var inputs: [[Int]] = []
        for shape in graph.inputShapes {
            guard shape.count >= 1 else { return }
            var dims = [1]
            for dim in shape.dropFirst() {
                guard let dim else { return }
                dims.append(dim)
            }
            guard let values = CheckedSize.product(dims), values >= 1, values <= ForwardBudget.maxInputValues else { return }
            inputs.append(dims)
        }
        guard ForwardBudget.allows(graph, inputs: inputs) else { return }
        if (try? graph.forward(inputs.map { Tensor(zeros: $0) })) != nil {
            lastOutcome = .ran
        }
    }

    /// The bytes as text, parsed as a `--head`; its pooling after a `[nil, 7, 7, 8]` feature
    /// map and its trained layers on 16 features, for 2 classes (even length) or 3 (odd).
    ///
    /// The head is only built when its Dense layers declare at most `maxHeadWeights`
    /// weights: the library lets a head have up to `HeadSpec.maxWeights` (2^26), and
    /// building one that large takes a second and 256 MiB (glorot-uniform draws) without
    /// finding anything.
    public static func head(_ data: UnsafeRawBufferPointer) {
        lastOutcome = .refused
        let text = String(decoding: data, as: UTF8.self)
        guard let spec = try? HeadSpec(text) else { return }
        let pooling = try? spec.poolingLayers(after: [nil, 7, 7, 8])
        let features = 16
        let classes = data.count % 2 == 0 ? 2 : 3
        guard let weights = declaredWeights(spec, features: features, classes: classes),
              weights <= maxHeadWeights else { return }
        let head = try? spec.head(features: features, classes: classes, seed: 0)
        lastOutcome = pooling != nil && head != nil ? .accepted : .refused
    }

    /// `FineTuneJob.checkCheckpoint`: a training checkpoint (safetensors with JSON metadata),
    /// as `mien train --resume` reads it before trusting it.
    public static func checkpoint(_ data: UnsafeRawBufferPointer) {
        lastOutcome = .refused
        guard (try? FineTuneJob.checkCheckpoint(bytes: Array(data), path: "fuzz.checkpoint.safetensors")) != nil else { return }
        lastOutcome = .accepted
    }

    /// `DetectorManifest.parse(bytes:)`: a face detector folder's `detector.json`.
    public static func detectorManifest(_ data: UnsafeRawBufferPointer) {
        lastOutcome = .refused
        guard (try? DetectorManifest.parse(bytes: Array(data), path: "fuzz/detector.json")) != nil else { return }
        lastOutcome = .accepted
    }

    /// The most weights a head may declare for the `head` target to build it.
    public static let maxHeadWeights = 1 << 22

    /// The weights the Dense layers of `spec` declare (kernel and bias, each taking the
    /// previous one's units), plus the output layer; nil when too large to count. A units
    /// value that is not a number counts as 1: the library refuses it anyway.
    static func declaredWeights(_ spec: HeadSpec, features: Int, classes: Int) -> Int? {
        var inputs = features
        var total = 0
        let units = spec.trained.filter { $0.className == "Dense" }.map { layer -> Double in
            layer.config["units"]?.double ?? 1
        } + [Double(classes == 2 ? 1 : classes)]
        for value in units {
            // Two-sided: Int(-4e94) traps as surely as Int(4e94).
            guard value.isFinite, value > -1e12, value < 1e12 else { return nil }
            let n = max(1, Int(value))
            let (kernel, o1) = inputs.multipliedReportingOverflow(by: n)
            let (sum, o2) = total.addingReportingOverflow(kernel)
            let (withBias, o3) = sum.addingReportingOverflow(n)
            guard !o1, !o2, !o3 else { return nil }
            total = withBias
            inputs = n
        }
        return total
    }

    /// `ImageDecoder.decode`, to the file's own channels, gray or RGB (by length mod 3).
    public static func image(_ data: UnsafeRawBufferPointer) {
        let channels: Int? = [nil, 1, 3][data.count % 3]
        let image = try? ImageDecoder.decode(Array(data), path: "fuzz.img", channels: channels)
        lastOutcome = image == nil ? .refused : .accepted
    }

    /// `FaceDataset.loadCSV(bytes:)` with every class, all rows (even length) or the
    /// `Training` rows (odd length).
    public static func csv(_ data: UnsafeRawBufferPointer) {
        let faces = try? FaceDataset.loadCSV(bytes: Array(data), path: "fuzz.csv", classes: nil,
                                             usage: data.count % 2 == 0 ? nil : "Training")
        lastOutcome = faces == nil ? .refused : .accepted
    }
}

public extension FuzzTargets {
    /// Runs target `name` on `bytes`; false if there is no such target.
    @discardableResult
    static func run(_ name: String, _ bytes: [UInt8]) -> Bool {
        guard let target = all[name] else { return false }
        bytes.withUnsafeBytes { target($0) }
        return true
    }
}
