import MienFaces
import Foundation
import MienKeras
import MienKerasConfig
import MienFiles
import MienModelFile
import MienNN

/// What a fine-tuning run reports while it works; the CLI renders it.
public enum FineTuneEvent: Sendable {
    case warning(String)
    case dataset(train: [Int], validation: [Int], classes: [String])
    /// `count` of the `of` faces are also trained and validated as framed in `path`.
    case realigned(count: Int, of: Int, path: String)
    case features(done: Int, total: Int, imagesPerSecond: Double)
    case featuresDone(count: Int, seconds: Double)
    /// The frozen part's outputs, cached for the second stage: their size and whether they
    /// went to a mapped file.
    case cache(bytes: Int, shape: [Int], mapped: Bool)
    /// A stage begins: its trainable weight tensors, their scalars, and the forward pass's
    /// operations per face (`Graph.flopsPerImage`; a training step is about three times that).
    case stage(Int, layers: Int, weights: Int, flopsPerFace: Int)
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
    /// The same faces framed another way (a folder `mien align` wrote from `data`): each face
    /// found there trains and validates in both framings, on the same side of the split.
    public var realigned: String?
    /// `settings.backbone` already imported by the caller, so it is not read twice.
    public var backbone: Graph?
    /// With `backbone`, for `--from-scratch`: the initializers its config names
    /// (`KerasModel.initializers`).
    public var initializers: [String: [String: JSON]]?

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

    public var checkpointPath: String { output + ".checkpoint.safetensors" }
    public var historyPath: String { output + ".history.json" }
    public var splitPath: String { output + ".split.json" }

    /// Which faces picked the epoch, so that another tool (or a rerun) can use the same ones.
    struct Split: Codable, Equatable {
        var seed: UInt64
        var validationFraction: Double
        var classes: [String]
        var validation: [String]
    }

    /// What the checkpoint holds besides its tensors: the settings (a resumed run must be the
    /// same job), the head's trainer state (its numbers are tensors under `head/`; nil for a
    /// whole model) and, once the model trains (stage 2, or a whole model), that state
    /// (numbers under `fine/`).
    struct Checkpoint: Codable, Equatable {
        var settings: FineTuneSettings
        var head: TrainerState?
        var fine: ModelFitMeta?
    }

    /// The faces of a run: loaded, split, and the labels of the cached entries (with
    /// augmentation, view v of face i is entry v·n + i, each made when its batch runs).
    struct RunData {
        var faces: FaceDataset
        var train: FaceDataset
        var validation: FaceDataset
        /// The faces of `data` held out (without their other framing): the split file's.
        var heldOut: FaceDataset
        var labels: [Int]
        var validationLabels: [Int]
        var trainFace: @Sendable (Int) -> [Float]
    }

    @discardableResult
    /// Runs the job; `report` may throw to stop it (the last checkpoint stays).
    /// Returns the model (before BatchNormalization folding), its history, and the validation
    /// faces that picked the epoch (for a report).
    public func run(_ report: (FineTuneEvent) throws -> Void) throws
        -> (model: MienModel, history: History, validation: FaceDataset) {
        let runStart = ContinuousClock.now
        if let whole = settings.model { return try runModel(whole, start: runStart, report) }
        // The model first: a bad backbone, head or fine-tuning layer fails before the faces are read.
        let headSpec = try HeadSpec(settings.head)
        let backbone = try self.backbone ?? KerasModel(contentsOf: settings.backbone).graph
        var extractor = try FeatureExtractor(backbone: backbone, inputSize: settings.inputSize,
                                             featuresFrom: settings.featuresFrom, head: headSpec)
        let freshHead = try headSpec.head(features: extractor.featureCount, classes: settings.classes.count,
                                          seed: settings.seed)
        if let stage = settings.fineTune {
            if freshHead.layers.contains(where: { $0.name == stage.from }) {
                throw TrainingSetupError("--fine-tune-from: '\(stage.from)' is a layer of the new head, which trains in both stages; name a layer of the backbone")
            }
            try extractor.split(before: stage.from, trainBatchNorm: stage.trainBatchNorm)
        }
        if let split = extractor.split { _ = try secondStageTrainer(split, head: freshHead) }

        let data = try loadFaces(report)
        let checkpoint = try resume && FileManager.default.fileExists(atPath: checkpointPath) ? readCheckpoint() : nil
        let inSecondStage = checkpoint?.meta.fine != nil
        // Features: the backbone is frozen, so they are computed once (with a second stage,
        // from the cut, whose outputs are cached on the way).
        let (cache, trainFeatures, validationFeatures) = try computeFeatures(extractor, data, features: !inSecondStage, report)

        // Stage 1: the head, fresh or from the checkpoint.
        var trainer: Trainer
        if let checkpoint {
            do {
                guard let head = checkpoint.meta.head else { throw TrainingError.invalidState("it holds no head") }
                trainer = try Trainer(resuming: head.joined(checkpoint.tensors, "head"))
            } catch let error as TrainingError {
                throw TrainingSetupError("\(checkpointPath): \(error)")
            }
            guard trainer.options == fitOptions(counts: data.train.counts),
                  trainer.head.featureCount == extractor.featureCount else {
                throw TrainingSetupError("\(checkpointPath): the checkpoint's trainer does not match its settings or the data (edited, or made from other faces?); remove it to start over")
            }
            if !inSecondStage { try report(.resumed(fromEpoch: trainer.history.epochs.count)) }
        } else {
            trainer = Trainer(head: freshHead, options: fitOptions(counts: data.train.counts))
        }
        let (epochs, batchSize) = (settings.epochs, settings.batchSize)
        var lastCheckpoint: Int?
        if !inSecondStage {
            do {
                try trainer.fit(
                    train: (trainFeatures, data.labels),
                    validation: data.validation.faces.isEmpty ? nil : (validationFeatures, data.validationLabels),
                    onBatch: { try report(.batch($0, batchSize: batchSize)) },
                    onEpoch: { record, state in
                        let (meta, tensors) = state.split("head")
                        try CheckpointFile.write(Checkpoint(settings: settings, head: meta), tensors: tensors,
                                                 to: checkpointPath)
                        try writeJSON(state.history, to: historyPath)
                        lastCheckpoint = record.epoch
                        try report(.epoch(record, epochs: epochs, best: state.history.bestEpoch == record.epoch))
                    })
            } catch let error as TrainingError {
                throw TrainingSetupError("\(error)" + kept(lastCheckpoint, advice: "lower --learning-rate (now \(settings.learningRate))"))
            }
        }

        // Stage 2: the backbone's top and the head, on the cached cut.
        var history = trainer.history
        var (finalBackbone, head) = (extractor.backbone, trainer.head)
        if let stage = settings.fineTune, let split = extractor.split, let cache {
            var model = try secondStageTrainer(split, head: trainer.head, learningRate: stage.learningRate)
            var options = fitOptions(counts: data.train.counts)
            options.epochs = stage.epochs
            options.learningRate = Double(stage.learningRate)
            options.monitor = stage.monitor
            var stream = SeededGenerator(seed: settings.seed, .secondStage)
            options.seed = stream.next()
            let second = try fitModel(&model, options: options, cache: cache, data: data, checkpoint: checkpoint,
                                      head: try trainer.state.split("head"), first: trainer.history,
                                      advice: "lower --fine-tune-learning-rate (now \(stage.learningRate))", report)
            history = FineTuneJob.combined(trainer.history, second)
            // The trained weights back into the backbone and the head, by key path.
            let headNames = Set(head.parameterNames)
            var headWeights: [String: Tensor] = [:]
            for parameter in model.model.parameters {
                if headNames.contains(parameter.name) {
                    headWeights[parameter.name] = parameter.value
                } else {
                    try finalBackbone.setParameter(parameter.name, to: parameter.value)
                }
            }
            try head.setWeights(headWeights)
        }
        let model = try write(try assemble(finalBackbone, extractor, head: head), adapter: extractor.adapter,
                              history: history, data: data, start: runStart, report)
        return (model, history, data.validation)
    }

    /// `mien train --model`: the imported classifier trains as it is, from `trainFrom` on
    /// (the layers before are frozen and their output cached), from its saved weights or
    /// drawn again from its config's initializers.
    func runModel(_ whole: ModelTraining, start runStart: ContinuousClock.Instant,
                  _ report: (FineTuneEvent) throws -> Void) throws -> (model: MienModel, history: History, validation: FaceDataset) {
        let imported = try backbone.map { ($0, initializers) } ?? {
            let model = try KerasModel(contentsOf: settings.backbone)
            return (model.graph, model.initializers)
        }()
        var graph = imported.0
        if whole.fromScratch { try graph.reinitialize(imported.1 ?? [:], seed: settings.seed) }
        var extractor = try FeatureExtractor(backbone: graph, inputSize: settings.inputSize, featuresFrom: nil,
                                             rescale: whole.rescale)
        let units = extractor.featureCount
        let classes = settings.classes.count
        guard extractor.graph.outputShape.count == 2, units == classes || (units == 1 && classes == 2) else {
            throw TrainingSetupError("\(settings.backbone): the model's output \(extractor.graph.outputShape.kerasDescription) does not give \(classes) classes (Dense(1, sigmoid) for 2, Dense(\(classes), softmax))")
        }
        let flat = try extractor.backbone.flattened()
        let first = flat.nodes.indices.first { !flat.inputNodes.contains($0) }.map { flat.layers[flat.nodes[$0].layer].name }
        guard let from = whole.trainFrom ?? first else {
            throw TrainingSetupError("\(settings.backbone): the model has no layer to train")
        }
        // As Keras's `fit` does, BatchNormalization trains (batch statistics).
        try extractor.split(before: from, trainBatchNorm: true)
        guard let split = extractor.split else { throw TrainingSetupError("\(settings.backbone): cannot cut before '\(from)'") }
        var model: ModelTrainer
        do {
            model = try ModelTrainer(model: split.trainable, optimizer: fitOptions(counts: []).makeOptimizer(),
                                     loss: Loss.forOutputUnits(units), seed: settings.seed)
        } catch let error as TrainingError {
            throw TrainingSetupError("\(settings.backbone): \(error)")
        }
        guard try model.logitsModel().1 != nil else {
            throw TrainingSetupError("\(settings.backbone): the model's last layer must end in \(units == 1 ? "sigmoid" : "softmax") (the loss is computed from its input, as Keras does)")
        }

        let data = try loadFaces(report)
        let checkpoint = try resume && FileManager.default.fileExists(atPath: checkpointPath) ? readCheckpoint() : nil
        let (cache, _, _) = try computeFeatures(extractor, data, features: false, report)
        guard let cache else { throw TrainingSetupError("\(settings.backbone): nothing to cache") }
        let history = try fitModel(&model, options: fitOptions(counts: data.train.counts), cache: cache, data: data, checkpoint: checkpoint,
                                   head: nil, first: History(),
                                   advice: "lower --learning-rate (now \(settings.learningRate))", report)
        var trained = extractor.backbone
        for parameter in model.model.parameters { try trained.setParameter(parameter.name, to: parameter.value) }
        let result = try write(try assemble(trained, extractor, head: nil), adapter: extractor.adapter,
                               history: history, data: data, start: runStart, report)
        return (result, history, data.validation)
    }

    func loadFaces(_ report: (FineTuneEvent) throws -> Void) throws -> RunData {
        let faces = try FaceDataset.load(data, classes: settings.classes, usage: usage, strict: strict)
        for warning in faces.warnings { try report(.warning(warning)) }
        let (heldIn, heldOut) = faces.split(validationFraction: settings.validationSplit, seed: settings.seed)
        let (train, validation) = try withRealigned(heldIn, heldOut, of: faces.count, report)
        try report(.dataset(train: train.counts, validation: validation.counts, classes: faces.classes))
        let views = settings.augmentation == .none ? 1 : settings.cachedViews
        let n = train.faces.count
        let (augmentation, seed) = (settings.augmentation, settings.seed)
        @Sendable func trainFace(_ entry: Int) -> [Float] {
            let (view, i) = entry.quotientAndRemainder(dividingBy: n)
            let pixels = train.faces[i].pixels
            guard augmentation != .none else { return pixels.map(Float.init) }
            var generator = SeededGenerator(seed: seed, .cachedView, UInt64(view), UInt64(i))
            return augmentation.apply(pixels, generator: &generator)
        }
        return RunData(faces: faces, train: train, validation: validation, heldOut: heldOut,
                       labels: (0..<views).flatMap { _ in train.faces.map(\.label) },
                       validationLabels: validation.faces.map(\.label), trainFace: trainFace)
    }

    /// With `realigned`, both parts of the split with their faces' other framing appended: the
    /// split is of `data`'s faces, so no face's other framing lands on the other side.
    func withRealigned(_ train: FaceDataset, _ validation: FaceDataset, of count: Int,
                       _ report: (FineTuneEvent) throws -> Void) throws -> (FaceDataset, FaceDataset) {
        guard let realigned else { return (train, validation) }
        let other: FaceDataset
        do {
            other = try FaceDataset.load(realigned, classes: settings.classes, strict: strict)
        } catch let error as FaceDataError {
            // Named as the option, since the folder's own name may not say which one it is ("/").
            throw TrainingSetupError("--realigned \(error)")
        }
        for warning in other.warnings { try report(.warning(warning)) }
        let (trainTwins, validationTwins) = (train.reframed(by: other), validation.reframed(by: other))
        guard trainTwins.count + validationTwins.count > 0 else {
            throw TrainingSetupError("--realigned \(realigned): holds none of the faces of \(data) framed anew (matched by class folder and file name)")
        }
        try report(.realigned(count: trainTwins.count + validationTwins.count, of: count, path: realigned))
        return (train.appending(trainTwins), validation.appending(validationTwins))
    }

    /// One pass of every face (and cached view) through the frozen part: the features of
    /// the head (unless `features` is false) and, when the model is split, the cached cut.
    func computeFeatures(_ extractor: FeatureExtractor, _ data: RunData, features: Bool,
                         _ report: (FineTuneEvent) throws -> Void) throws
        -> (cache: (train: HalfSamples, validation: HalfSamples)?, train: Tensor, validation: Tensor) {
        var cache: (train: HalfSamples, validation: HalfSamples)?
        if let shape = extractor.cutShape {
            cache = (try HalfSamples(count: data.labels.count, sampleShape: shape, spill: output + ".cache-train"),
                     try HalfSamples(count: data.validationLabels.count, sampleShape: shape, spill: output + ".cache-validation"))
            try report(.cache(bytes: cache!.train.byteCount + cache!.validation.byteCount, shape: shape,
                              mapped: cache!.train.isMapped || cache!.validation.isMapped))
        }
        let total = data.labels.count + data.validationLabels.count
        let clock = ContinuousClock()
        let start = clock.now
        func seconds() -> Double { (clock.now - start).seconds }
        let trainFeatures = try extractor.features(count: data.labels.count, batchSize: extractor.batchSize,
                                                   face: data.trainFace, cache: cache?.train, features: features) { done in
            try report(.features(done: done, total: total, imagesPerSecond: Double(done) / max(seconds(), 1e-9)))
        }
        let validation = data.validation
        let validationFeatures = try extractor.features(count: validation.faces.count, batchSize: extractor.batchSize,
                                                        face: { validation.faces[$0].pixels.map(Float.init) },
                                                        cache: cache?.validation, features: features) { done in
            try report(.features(done: data.labels.count + done, total: total,
                                 imagesPerSecond: Double(data.labels.count + done) / max(seconds(), 1e-9)))
        }
        try report(.featuresDone(count: total, seconds: seconds()))
        return (cache, trainFeatures, validationFeatures)
    }

    /// Trains `model` on the cached cut with validation and early stopping, from the
    /// checkpoint's `fine` state when there is one, checkpointing every epoch (with the head's
    /// state of stage 1, if any). Returns this fit's history; `first` is what came before.
    func fitModel(_ model: inout ModelTrainer, options: FitOptions,
                  cache: (train: HalfSamples, validation: HalfSamples), data: RunData,
                  checkpoint: (meta: Checkpoint, tensors: [String: Tensor])?, head: (TrainerState, [String: Tensor])?,
                  first: History, advice: String, _ report: (FineTuneEvent) throws -> Void) throws -> History {
        let batchSize = options.batchSize
        model.seed = options.seed   // the dropout masks' streams
        let validationSet = data.validation.faces.isEmpty ? nil : (samples: cache.validation as any Samples,
                                                                   labels: data.validationLabels)
        var state: ModelFitState
        if let checkpoint, let fine = checkpoint.meta.fine {
            state = ModelFitState(fine, tensors: checkpoint.tensors, "fine")
            do {
                guard state.options == options else {
                    throw TrainingError.invalidState("it was made with other options")
                }
                try model.restore(state)
            } catch let error as TrainingError {
                throw TrainingSetupError("\(checkpointPath): \(error); remove it to start over")
            }
            try report(.resumed(fromEpoch: first.epochs.count + state.history.epochs.count))
        } else {
            // After a head, the stage must beat it: its validation loss (or error) is the baseline.
            let baseline = try head == nil ? nil : validationSet.map {
                let (loss, accuracy) = try model.evaluate($0.samples, labels: $0.labels, batchSize: batchSize)
                return Monitor.value(options.monitor, loss: loss, accuracy: accuracy)
            }
            state = model.initialState(options: options, baseline: baseline)
        }
        let stage = head == nil ? 1 : 2
        try report(.stage(stage, layers: model.model.parameters.filter(\.trainable).count,
                          weights: model.trainableWeights.values.reduce(0) { $0 + $1.count },
                          flopsPerFace: try model.model.flopsPerImage(for: model.model.inputShapes)))
        var lastCheckpoint: Int?
        do {
            try model.fit(train: cache.train, labels: data.labels, validation: validationSet, state: &state,
                          onBatch: { try report(.batch($0, batchSize: batchSize)) },
                          onEpoch: { record, state in
                              var (meta, tensors) = state.split("fine")
                              if let head { tensors.merge(head.1) { a, _ in a } }
                              try CheckpointFile.write(Checkpoint(settings: settings, head: head?.0, fine: meta),
                                                       tensors: tensors, to: checkpointPath)
                              let combined = head == nil ? state.history : FineTuneJob.combined(first, state.history)
                              try writeJSON(combined, to: historyPath)
                              lastCheckpoint = combined.epochs.count
                              try report(.epoch(combined.epochs.last!, epochs: first.epochs.count + options.epochs,
                                                best: state.history.bestEpoch == record.epoch))
                          })
        } catch let error as TrainingError {
            throw TrainingSetupError((head == nil ? "" : "stage 2: ") + "\(error)" + kept(lastCheckpoint, advice: advice))
        }
        return state.history
    }

    /// Writes the model (BatchNormalization folded), its history and split, removes the
    /// checkpoint; returns the model before folding.
    func write(_ graph: Graph, adapter: InputAdapter, history: History, data: RunData, start: ContinuousClock.Instant,
               _ report: (FineTuneEvent) throws -> Void) throws -> MienModel {
        let model = MienModel(graph: graph, inputAdapter: adapter,
                              classes: settings.classes, source: URL(fileURLWithPath: settings.backbone).lastPathComponent,
                              training: try TrainingRecord(settings: settings, history: history, data: self.data,
                                                           classCounts: data.faces.counts,
                                                           seconds: (ContinuousClock.now - start).seconds).json(),
                              testTimeAugmentation: settings.testTimeAugmentation ?? .none)
        var optimized = model
        optimized.graph = try model.graph.optimizedForInference()
        try MienFile.write(optimized, to: output)
        try writeJSON(history, to: historyPath)
        try writeJSON(Split(seed: settings.seed, validationFraction: settings.validationSplit, classes: data.faces.classes,
                            validation: data.heldOut.faces.map(\.source)), to: splitPath)
        try? FileManager.default.removeItem(atPath: checkpointPath)
        try report(.finished(bestEpoch: history.bestEpoch, path: output))
        return model
    }

    /// What is left after a stopped stage: the checkpoint of its last finished epoch, if any.
    func kept(_ epoch: Int?, advice: String) -> String {
        FileManager.default.fileExists(atPath: checkpointPath)
            ? "; the checkpoint of the last finished epoch\(epoch.map { " (\($0))" } ?? "") is kept in \(checkpointPath); \(advice), then rerun"
            : "; no epoch finished, so there is no checkpoint; a \(advice) usually avoids it"
    }

    /// The second stage's model: the backbone from the cut, the pooling and the head, with
    /// its optimizer. Refuses a layer without a backward pass, naming it.
    func secondStageTrainer(_ split: FeatureExtractor.Split, head: Head, learningRate: Float? = nil) throws -> ModelTrainer {
        let names = Set(split.trainable.layers.map(\.name))
        if let clash = head.layers.first(where: { names.contains($0.name) }) {
            throw TrainingSetupError("the head's layer '\(clash.name)' has the name of a backbone layer")
        }
        var options = FitOptions(epochs: 1, optimizer: OptimizerName(rawValue: settings.optimizer) ?? .adam,
                                 learningRate: Double(learningRate ?? settings.learningRate),
                                 momentum: Double(settings.momentum))
        if options.optimizer != .sgd { options.momentum = 0 }
        do {
            return try ModelTrainer(model: try split.trainable.appending(head.layers),
                                    optimizer: options.makeOptimizer(), loss: head.defaultLoss)
        } catch let error as TrainingError {
            throw TrainingSetupError("--fine-tune-from: \(error)")
        }
    }

    /// The history of both stages: the second's epochs numbered on from the first's and
    /// marked `stage: 2`; the best epoch is the second's when it beat the first.
    static func combined(_ first: History, _ second: History) -> History {
        var history = first
        let offset = first.epochs.count
        history.epochs += second.epochs.map { var record = $0; record.epoch += offset; record.stage = 2; return record }
        if let best = second.bestEpoch { history.bestEpoch = best + offset }
        return history
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
    func assemble(_ backbone: Graph, _ extractor: FeatureExtractor, head: Head?) throws -> Graph {
        let side = settings.inputSize
        let channels = extractor.adapter.outputSize[2]
        var layers: [any Layer] = [InputLayer(name: "input", shape: [nil, side, side, channels]), backbone]
        layers += extractor.pooling
        layers += head?.layers ?? []
        let nodes = layers.indices.map { Graph.Node(layer: $0, inputs: $0 == 0 ? [] : [$0 - 1]) }
        return try Graph(name: "fer_" + settings.classes.joined(separator: "_"), kerasClass: "Sequential",
                         layers: layers, nodes: nodes, inputNodes: [0], outputNode: nodes.count - 1)
    }

    /// Reads a checkpoint held in memory and checks what can be checked without the model:
    /// the head's trainer state restores, and the second stage's state agrees with itself.
    /// What `--resume` does to a file before it trusts it (and the `checkpoint` fuzz target).
    public static func checkCheckpoint(bytes: [UInt8], path: String = "<memory>") throws {
        let (meta, tensors) = try CheckpointFile.read(Checkpoint.self, file: try SafeTensorsFile(bytes: bytes, path: path))
        if let head = meta.head { _ = try Trainer(resuming: head.joined(tensors, "head")) }
        if let fine = meta.fine { try ModelFitState(fine, tensors: tensors, "fine").validate() }
    }

    func readCheckpoint() throws -> (meta: Checkpoint, tensors: [String: Tensor]) {
        let checkpoint: (Checkpoint, [String: Tensor])
        do {
            checkpoint = try CheckpointFile.read(Checkpoint.self, from: checkpointPath)
        } catch let error as TrainingSetupError {
            throw error
        } catch {
            throw TrainingSetupError("\(checkpointPath): not a readable checkpoint (\(error))")
        }
        guard checkpoint.0.settings == settings else {
            throw TrainingSetupError("\(checkpointPath): the checkpoint was made with other settings; rerun them, or remove it to start over")
        }
        return checkpoint
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
