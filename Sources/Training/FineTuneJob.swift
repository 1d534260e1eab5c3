import Faces
import Foundation
import Keras
import KerasConfig
import MienFiles
import ModelFile
import NN

/// What a fine-tuning run reports while it works; the CLI renders it.
public enum FineTuneEvent: Sendable {
    case warning(String)
    case dataset(train: [Int], validation: [Int], classes: [String])
    case features(done: Int, total: Int, imagesPerSecond: Double)
    case featuresDone(count: Int, seconds: Double)
    case batch(BatchProgress, batchSize: Int)
    case epoch(EpochRecord, epochs: Int, best: Bool)
    case resumed(fromEpoch: Int)
    case finished(bestEpoch: Int?, path: String)
}

/// The whole job: load faces, split, cache the frozen backbone's features (with augmented
/// views), fit the head with a checkpoint each epoch, and write the model.
public struct FineTuneJob {
    public var settings: FineTuneSettings
    public var data: String
    public var usage: String?
    public var strict: Bool
    public var output: String
    public var resume: Bool
    /// `settings.backbone` already imported by the caller, so it is not read twice.
    public var backbone: Graph?

    public init(settings: FineTuneSettings, data: String, usage: String?, strict: Bool, output: String, resume: Bool,
                backbone: Graph? = nil) {
        self.settings = settings
        self.data = data
        self.usage = usage
        self.strict = strict
        self.output = output
        self.resume = resume
        self.backbone = backbone
    }

    public var checkpointPath: String { output + ".checkpoint.json" }
    /// The largest checkpoint read (a head's weights twice, as JSON numbers).
    public static let maxCheckpointBytes = 512 << 20
    public var historyPath: String { output + ".history.json" }
    public var splitPath: String { output + ".split.json" }

    /// Which faces picked the epoch, so that another tool (or a rerun) can use the same ones.
    struct Split: Codable, Equatable {
        var seed: UInt64
        var validationFraction: Double
        var classes: [String]
        var validation: [String]
    }

    /// What the checkpoint holds: the settings (a resumed run must be the same job) and the
    /// trainer's state after the last finished epoch.
    struct Checkpoint: Codable, Equatable {
        var settings: FineTuneSettings
        var state: TrainerState
    }

    @discardableResult
    /// Runs the job; `report` may throw to stop it (the last checkpoint stays).
    /// Returns the model (before BatchNormalization folding), its history, and the validation
    /// faces that picked the epoch (for a report).
    public func run(_ report: (FineTuneEvent) throws -> Void) throws
        -> (model: MienModel, history: History, validation: FaceDataset) {
        let runStart = ContinuousClock.now
        // The model first: a bad backbone or head fails before the faces are read.
        let headSpec = try HeadSpec(settings.head)
        let backbone = try self.backbone ?? KerasModel(contentsOf: settings.backbone).graph
        let extractor = try FeatureExtractor(backbone: backbone, inputSize: settings.inputSize,
                                             featuresFrom: settings.featuresFrom, head: headSpec)
        // The new head too, so that a bad layer in it stops the job before any face is read.
        let freshHead = try headSpec.head(features: extractor.featureCount, classes: settings.classes.count,
                                          seed: settings.seed)

        let faces = try FaceDataset.load(data, classes: settings.classes, usage: usage, strict: strict)
        for warning in faces.warnings { try report(.warning(warning)) }
        let (train, validation) = faces.split(validationFraction: settings.validationSplit, seed: settings.seed)
        try report(.dataset(train: train.counts, validation: validation.counts, classes: faces.classes))

        // Features: the backbone is frozen, so they are computed once; with augmentation,
        // `cachedViews` random views of each face, reused every epoch.
        // View v of face i is entry v·n + i; each is made when its batch runs.
        let views = settings.augmentation == .none ? 1 : settings.cachedViews
        let n = train.faces.count
        let labels = (0..<views).flatMap { _ in train.faces.map(\.label) }
        let (augmentation, seed) = (settings.augmentation, settings.seed)
        @Sendable func trainFace(_ entry: Int) -> [Float] {
            let (view, i) = entry.quotientAndRemainder(dividingBy: n)
            let pixels = train.faces[i].pixels
            guard augmentation != .none else { return pixels.map(Float.init) }
            var generator = SeededGenerator(seed: seed, .cachedView, UInt64(view), UInt64(i))
            return augmentation.apply(pixels, generator: &generator)
        }
        let total = labels.count + validation.faces.count
        let clock = ContinuousClock()
        let start = clock.now
        func seconds() -> Double { (clock.now - start).seconds }
        let trainFeatures = try extractor.features(count: labels.count, batchSize: extractor.batchSize,
                                                   face: trainFace) { done in
            try report(.features(done: done, total: total, imagesPerSecond: Double(done) / max(seconds(), 1e-9)))
        }
        let validationFeatures = try extractor.features(count: validation.faces.count, batchSize: extractor.batchSize,
                                                        face: { validation.faces[$0].pixels.map(Float.init) }) { done in
            try report(.features(done: labels.count + done, total: total,
                                 imagesPerSecond: Double(labels.count + done) / max(seconds(), 1e-9)))
        }
        try report(.featuresDone(count: total, seconds: seconds()))

        // The head, fresh or from the checkpoint.
        var trainer: Trainer
        if resume, FileManager.default.fileExists(atPath: checkpointPath) {
            let checkpoint = try readCheckpoint()
            guard checkpoint.settings == settings else {
                throw TrainingSetupError("\(checkpointPath): the checkpoint was made with other settings; rerun them, or remove it to start over")
            }
            do {
                trainer = try Trainer(resuming: checkpoint.state)
            } catch let error as TrainingError {
                throw TrainingSetupError("\(checkpointPath): \(error)")
            }
            guard trainer.options == fitOptions(counts: train.counts),
                  trainer.head.featureCount == extractor.featureCount else {
                throw TrainingSetupError("\(checkpointPath): the checkpoint's trainer does not match its settings or the data (edited, or made from other faces?); remove it to start over")
            }
            try report(.resumed(fromEpoch: trainer.history.epochs.count))
        } else {
            trainer = Trainer(head: freshHead, options: fitOptions(counts: train.counts))
        }
        let (epochs, batchSize) = (settings.epochs, settings.batchSize)
        var lastCheckpoint: Int?
        do {
            try trainer.fit(
                train: (trainFeatures, labels),
                validation: validation.faces.isEmpty ? nil : (validationFeatures, validation.faces.map(\.label)),
                onBatch: { try report(.batch($0, batchSize: batchSize)) },
                onEpoch: { record, state in
                    try writeJSON(Checkpoint(settings: settings, state: state), to: checkpointPath)
                    try writeJSON(state.history, to: historyPath)
                    lastCheckpoint = record.epoch
                    try report(.epoch(record, epochs: epochs, best: state.history.bestEpoch == record.epoch))
                })
        } catch let error as TrainingError {
            // The model is not written; the last checkpoint (if an epoch finished) stays.
            let kept = FileManager.default.fileExists(atPath: checkpointPath)
                ? "; the checkpoint of the last finished epoch\(lastCheckpoint.map { " (\($0))" } ?? "") is kept in \(checkpointPath): lower --learning-rate, then --resume"
                : "; no epoch finished, so there is no checkpoint; a lower --learning-rate (now \(settings.learningRate)) usually avoids it"
            throw TrainingSetupError("\(error)" + kept)
        }

        let model = MienModel(graph: try assemble(extractor, head: trainer.head), inputAdapter: extractor.adapter,
                              classes: settings.classes, source: URL(fileURLWithPath: settings.backbone).lastPathComponent,
                              training: try TrainingRecord(settings: settings, history: trainer.history, data: data,
                                                           classCounts: faces.counts,
                                                           seconds: (ContinuousClock.now - runStart).seconds).json())
        var optimized = model
        optimized.graph = try model.graph.optimizedForInference()
        try MienFile.write(optimized, to: output)
        try writeJSON(trainer.history, to: historyPath)
        try writeJSON(Split(seed: settings.seed, validationFraction: settings.validationSplit, classes: faces.classes,
                            validation: validation.faces.map(\.source)), to: splitPath)
        try? FileManager.default.removeItem(atPath: checkpointPath)
        try report(.finished(bestEpoch: trainer.history.bestEpoch, path: output))
        return (model, trainer.history, validation)
    }

    func fitOptions(counts: [Int]) -> FitOptions {
        let optimizer = OptimizerName(rawValue: settings.optimizer) ?? .adam
        return FitOptions(epochs: settings.epochs, batchSize: settings.batchSize,
                          optimizer: optimizer, learningRate: Double(settings.learningRate),
                          momentum: optimizer == .sgd ? Double(settings.momentum) : 0,
                          classWeights: settings.classWeight == "balanced" ? classWeightsBalanced(counts: counts) : nil,
                          patience: settings.patience, seed: settings.seed)
    }

    /// backbone (frozen, nested, keeping its Keras names) → pooling → head.
    func assemble(_ extractor: FeatureExtractor, head: Head) throws -> Graph {
        let backbone = extractor.backbone
        let side = settings.inputSize
        let channels = extractor.adapter.outputSize[2]
        var layers: [any Layer] = [InputLayer(name: "input", shape: [nil, side, side, channels]), backbone]
        layers += extractor.pooling
        layers += head.layers
        let nodes = layers.indices.map { Graph.Node(layer: $0, inputs: $0 == 0 ? [] : [$0 - 1]) }
        return try Graph(name: "fer_" + settings.classes.joined(separator: "_"), kerasClass: "Sequential",
                         layers: layers, nodes: nodes, inputNodes: [0], outputNode: nodes.count - 1)
    }

    func readCheckpoint() throws -> Checkpoint {
        do {
            let bytes = try RegularFile.read(checkpointPath, limit: FineTuneJob.maxCheckpointBytes, what: "the checkpoint")
            return try JSONDecoder().decode(Checkpoint.self, from: Data(bytes))
        } catch let error as FileError {
            throw TrainingSetupError("\(error)")
        } catch {
            throw TrainingSetupError("\(checkpointPath): not a readable checkpoint (\(error))")
        }
    }
}

/// Writes JSON atomically: to a temporary file that is decoded back and compared with
/// `value` before it is renamed into place (a checkpoint that cannot be read is never kept).
func writeJSON<T: Codable & Equatable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let data: Data
    do {
        data = try encoder.encode(value)
    } catch {
        throw TrainingSetupError("\(path): cannot encode as JSON (\(error))")
    }
    try AtomicFile.write([UInt8](data), to: path) { written in
        let bytes = try RegularFile.read(written, limit: data.count, what: "the written file")
        guard (try? JSONDecoder().decode(T.self, from: Data(bytes))) == value else {
            throw TrainingSetupError("\(path): the written file does not read back as what was written")
        }
    }
}

/// What a model made by `mien train` records of its training (the `.mien` file's `training`
/// metadata): the settings, the history, the data, its class counts and the run's wall time
/// (a resumed run counts its last part only). Written by `FineTuneJob`, read by the report.
public struct TrainingRecord: Codable, Sendable, Equatable {
    public var settings: FineTuneSettings
    public var history: History
    public var data: String
    /// Training faces per class, before the validation split; absent in older files.
    public var classCounts: [Int]?
    /// Absent in older files.
    public var seconds: Double?

    public init(settings: FineTuneSettings, history: History, data: String, classCounts: [Int]?, seconds: Double?) {
        self.settings = settings
        self.history = history
        self.data = data
        self.classCounts = classCounts
        self.seconds = seconds
    }

    /// The record a model file carries; nil when it has none or another kind.
    public init?(_ json: JSON?) {
        guard let json, let encoded = try? JSONEncoder().encode(json),
              let record = try? JSONDecoder().decode(TrainingRecord.self, from: encoded) else { return nil }
        self = record
    }

    func json() throws -> JSON {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try JSON(parsing: String(decoding: try encoder.encode(self), as: UTF8.self))
    }
}
