import ArgumentParser
import MienFaces
import Foundation
import MienKeras
import MienModelFile
import MienNN
import MienReport
import MienTraining

/// `mien train`: a new head on a frozen backbone, then the backbone's top fine-tuned with it
/// (or, with `--model`, an imported classifier trained as a whole). The defaults are the
/// settings that did best on the validation split of FER-2013 happy vs angry (README, "Measured").
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a Keras backbone on FER faces (a new head, then its top blocks), or train a Keras classifier; writes a .mien model.")

    @Option(help: "The backbone: a Keras full model, .h5 or .keras.")
    var backbone = "Weights/efficientnet_lite0_notop.h5"

    @Option(help: "Training data: a folder of class folders (Kaggle layout) or a fer2013.csv.")
    var data: String

    @Option(help: ArgumentHelp(
        "The same faces framed anew, as `mien align DATA --output DIR` writes them: each face found there also trains (and validates) in that framing.",
        discussion: "Faces are matched by class folder and file name; both framings of a face fall on the same side of the validation split, which stays that of --data. A model trained so reads faces cut from photos and FER-2013's own crops alike."))
    var realigned: String?

    @Option(parsing: .unconditional, help: "The classes and their label order, comma-separated; all: FER-2013's 7 (angry,disgust,fear,happy,sad,surprise,neutral).")
    var classes = "angry,happy"

    @Option(name: .shortAndLong, help: "The model file to write (.mien).")
    var output: String

    @Option(help: "With a fer2013.csv: the Usage rows to train on (default Training).")
    var usage: String?

    @Option(parsing: .unconditional, help: "The side the faces are resized to for the backbone, 32...1024.")
    var inputSize = 224

    @Option(help: ArgumentHelp(
        "Cut the backbone after this layer (mid-level features often transfer better).",
        discussion: "Default: \(Train.defaultFeatureLayer) when the backbone has it (EfficientNet's last block at 1/32 scale, before the top), else the whole backbone."))
    var featuresFrom: String?

    /// The feature layer that did best on the validation split (README, "Measured").
    static let defaultFeatureLayer = "block6d_add"

    @Option(help: ArgumentHelp(
        "Train this Keras classifier (.h5 or .keras) as a whole instead of a new head on --backbone.",
        discussion: "Its output must be Dense(1, sigmoid) for 2 classes or Dense(k, softmax) for k; faces are resized to its input. --fine-tune-from freezes the layers before it; BatchNormalization trains, as in Keras's fit."))
    var model: String?

    @Flag(help: "With --model: draw every weight again from the initializers its config names (glorot_uniform, he_normal, zeros, ...).")
    var fromScratch = false

    @Option(parsing: .unconditional, help: "With --model: multiply the 0...255 pixels by this (1/255 = 0.00392156862745098 for a model trained on 0...1), a positive finite number.")
    var rescale: Float = 1

    @Option(help: "For a full model that already has a head: keep it up to this layer and train a new head after it.")
    var replaceHeadAfter: String?

    @Option(parsing: .unconditional, help: "Epochs (early stopping usually ends sooner), 1...100000.")
    var epochs = 20

    @Option(parsing: .unconditional, help: "Faces per training step, 1...65536.")
    var batchSize = 32

    @Option(help: "adam, sgd, rmsprop or adamw (Keras 3's, with Keras's defaults).")
    var optimizer = "adam"

    @Option(parsing: .unconditional, help: "The optimizer's learning rate, a positive finite number.")
    var learningRate: Float = 0.001

    @Option(parsing: .unconditional, help: "SGD's momentum, 0...1.")
    var momentum: Float = 0.9

    @Flag(help: "Augment the training faces (rotation, shifts, zoom, horizontal flip, as Keras's ImageDataGenerator).")
    var augment = false

    @Option(parsing: .unconditional, help: "With --augment: augmented views of each face, computed once through the backbone and reused every epoch (1...64).")
    var cachedViews = 4

    @Option(parsing: .unconditional, help: "The fraction of each class held out to pick the best epoch, in [0, 1).")
    var validationSplit = 0.2

    @Option(parsing: .unconditional, help: "The seed of the split, the head's initial weights, the shuffles, dropout and augmentation.")
    var seed: UInt64 = 42

    @Option(help: "none, or balanced (weights inversely proportional to class frequency).")
    var classWeight = "balanced"

    @Option(parsing: .unconditional, help: "Early stopping: epochs without a better validation loss (0: off), 0...100000.")
    var patience = 3

    @Option(help: ArgumentHelp(
        "The new head's layers as Keras calls; the output layer (Dense(1, sigmoid), or Dense(k, softmax)) is added.",
        discussion: """
            Pooling (AveragePooling2D, MaxPooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten) comes first \
            and runs on the frozen feature map (GlobalAveragePooling2D when none is given); then Dense, Dropout and \
            Activation are trained. Arguments are positional in Keras's order or key=value, e.g. \
            "AveragePooling2D(4, strides=3), Flatten, Dense(256, relu), Dropout(0.3)".
            """))
    var head = "AveragePooling2D(3, strides=2), Flatten, Dense(256, relu), Dropout(0.2)"

    @Option(help: ArgumentHelp(
        "Stage 2: after the head, unfreeze the backbone from this layer to its end and train on (none: the head only).",
        discussion: "Default: \(Train.defaultFineTuneLayer) when the backbone has it, else none. BatchNormalization layers stay in inference mode unless --train-batchnorm."))
    var fineTuneFrom: String?

    /// The first unfrozen layer that did best on the validation split (README, "Measured").
    static let defaultFineTuneLayer = "block5a_expand_conv"

    @Option(parsing: .unconditional, help: "Stage 2's learning rate, a positive finite number.")
    var fineTuneLearningRate: Float = 1e-4

    @Option(parsing: .unconditional, help: "Stage 2's epochs (its own early stopping usually ends sooner), 0...100000.")
    var fineTuneEpochs = 10

    @Option(help: "What stage 2's early stopping and best epoch watch: val_accuracy or val_loss (Keras's monitor).")
    var fineTuneMonitor: Monitor = .valAccuracy

    @Flag(help: "Stage 2 trains the unfrozen BatchNormalization layers too (batch statistics, moving averages updated).")
    var trainBatchnorm = false

    @Option(help: "Recorded in the model: mirror averages each prediction with the mirror image's (test-time augmentation), none predicts on the image alone.")
    var testTimeAugmentation: TestTimeAugmentation = .mirror

    @Option(help: "Also write a report of the trained model on the validation faces to this folder (see mien evaluate --report).")
    var report: String?

    @Flag(help: "Continue an interrupted run from its last checkpoint.")
    var resume = false

    @Flag(help: "Stop at an unreadable image instead of skipping it with a warning.")
    var strict = false

    func run() throws {
        try reportingErrors {
            if let model { return try trainModel(model) }
            let classNames = try classList()
            let graph = try IsolatedKerasImport.load(backbone).graph
            var layer = replaceHeadAfter ?? featuresFrom
            if layer == nil, try graph.truncated(at: Train.defaultFeatureLayer) != nil {
                layer = Train.defaultFeatureLayer
            }
            let settings = FineTuneSettings(
                backbone: backbone, featuresFrom: layer, inputSize: inputSize, classes: classNames,
                epochs: epochs, batchSize: batchSize, optimizer: optimizer, learningRate: learningRate,
                momentum: momentum, augmentation: augment ? .standard : .none, cachedViews: augment ? cachedViews : 1,
                validationSplit: validationSplit, seed: seed, classWeight: classWeight,
                patience: patience > 0 ? patience : nil, head: head,
                fineTune: try fineTuneStage(graph, featuresFrom: layer), testTimeAugmentation: testTimeAugmentation)
            let console = Console()
            var job = FineTuneJob(settings: settings, data: data,
                                      usage: OptionCheck.isFolder(data) ? nil : usage ?? "Training", strict: strict,
                                      output: output, resume: resume, backbone: graph)
            job.realigned = realigned
            let (_, _, validation) = try job.run { console.render($0) }
            if let folder = report { try writeTrainingReport(validation, to: folder, console: console) }
        }
    }

    /// `--report`: the written file on the validation faces, so it measures exactly what was saved.
    func writeTrainingReport(_ validation: FaceDataset, to folder: String, console: Console) throws {
        let saved = try MienFile.read(contentsOf: output)
        let clock = ContinuousClock()
        let start = clock.now
        let scored = try Evaluation.score(try Predictor(model: saved), faces: validation)
        let path = try writeReport(scored, on: validation, role: "validation", model: saved, path: output,
                                   data: data, threshold: 0.5, seconds: (clock.now - start).seconds, to: folder)
        console.line("report: \(path)")
    }

    /// `--model`: the classifier trains as a whole, in one stage.
    func trainModel(_ path: String) throws {
        let imported = try IsolatedKerasImport.load(path)
        var side = inputSize
        if let input = imported.graph.inputShapes.first, input.count == 4, let h = input[1], let w = input[2], h == w {
            side = h   // the model's own input size
        }
        var layer = fineTuneFrom
        if layer == "none" { layer = nil }
        let settings = FineTuneSettings(
            backbone: path, inputSize: side, classes: try classList(), epochs: epochs, batchSize: batchSize,
            optimizer: optimizer, learningRate: learningRate, momentum: momentum,
            augmentation: augment ? .standard : .none, cachedViews: augment ? cachedViews : 1,
            validationSplit: validationSplit, seed: seed, classWeight: classWeight,
            patience: patience > 0 ? patience : nil, head: "",
            model: ModelTraining(trainFrom: layer, fromScratch: fromScratch, rescale: rescale),
            testTimeAugmentation: testTimeAugmentation)
        var job = FineTuneJob(settings: settings, data: data,
                                  usage: OptionCheck.isFolder(data) ? nil : usage ?? "Training", strict: strict,
                                  output: output, resume: resume, backbone: imported.graph)
        job.initializers = imported.initializers
        job.realigned = realigned
        let console = Console()
        let (_, _, validation) = try job.run { console.render($0) }
        if let folder = report { try writeTrainingReport(validation, to: folder, console: console) }
    }

    func classList() throws -> [String] {
        classes == "all" ? FaceDataset.fer2013Classes : try OptionCheck.classes("--classes", classes, atLeast: 2)
    }

    /// Stage 2 as asked: none with `--fine-tune-from none` or 0 epochs, the default layer when
    /// the backbone has it (and the features are not cut before it).
    func fineTuneStage(_ graph: Graph, featuresFrom: String?) throws -> FineTuneStage? {
        var layer = fineTuneFrom
        if layer == nil {
            let backbone = try featuresFrom.flatMap { try graph.flattened().truncated(at: $0) } ?? graph.flattened()
            if backbone.layerIndex(named: Train.defaultFineTuneLayer) != nil { layer = Train.defaultFineTuneLayer }
        }
        guard let layer, layer != "none", fineTuneEpochs > 0 else { return nil }
        return FineTuneStage(from: layer, learningRate: fineTuneLearningRate, epochs: fineTuneEpochs,
                             trainBatchNorm: trainBatchnorm, monitor: fineTuneMonitor)
    }

    /// Every option is checked here, before the backbone or any face is read.
    func validate() throws {
        try OptionCheck.range("--epochs", epochs, 1...FitOptions.maxEpochs)
        try OptionCheck.range("--batch-size", batchSize, 1...FitOptions.maxBatchSize)
        try OptionCheck.range("--input-size", inputSize, 32...1024)
        try OptionCheck.range("--cached-views", cachedViews, 1...64)
        try OptionCheck.range("--patience", patience, 0...FitOptions.maxEpochs)
        for (name, rate) in [("--learning-rate", learningRate), ("--fine-tune-learning-rate", fineTuneLearningRate)] {
            try OptionCheck.finite(name, rate)
            guard rate > 0 else { throw ValidationError("\(name) must be positive, got \(rate)") }
        }
        try OptionCheck.range("--fine-tune-epochs", fineTuneEpochs, 0...FitOptions.maxEpochs)
        if let name = fineTuneFrom, name.isEmpty { throw ValidationError("--fine-tune-from needs a layer name, or none") }
        try OptionCheck.range("--momentum", momentum, 0...1)
        guard validationSplit >= 0, validationSplit < 1 else {
            throw ValidationError("--validation-split must be in [0, 1), got \(validationSplit)")
        }
        guard report == nil || validationSplit > 0 else {
            throw ValidationError("--report shows the validation faces, and --validation-split 0 leaves none; use mien evaluate --report")
        }
        try OptionCheck.finite("--rescale", rescale)
        guard rescale > 0 else { throw ValidationError("--rescale must be positive, got \(rescale)") }
        guard model == nil || (featuresFrom == nil && replaceHeadAfter == nil) else {
            throw ValidationError("--model trains the model as it is: --features-from and --replace-head-after are for a new head on --backbone")
        }
        guard model != nil || (!fromScratch && rescale == 1) else {
            throw ValidationError("--from-scratch and --rescale are for --model")
        }
        guard featuresFrom == nil || replaceHeadAfter == nil else {
            throw ValidationError("give --features-from or --replace-head-after, not both (they both cut the model after a layer)")
        }
        guard OptimizerName(rawValue: optimizer) != nil else {
            throw ValidationError("--optimizer must be adam, sgd, rmsprop or adamw, got '\(optimizer)'")
        }
        guard ["none", "balanced"].contains(classWeight) else {
            throw ValidationError("--class-weight must be none or balanced, got '\(classWeight)'")
        }
        _ = try classList()
        try OptionCheck.usage(usage, data: data)
        if let realigned {
            // Faces are matched by file name, which a fer2013.csv's rows do not have.
            guard OptionCheck.isFolder(data) || !FileManager.default.fileExists(atPath: data) else {
                throw ValidationError("--realigned matches faces by file name: --data must be a folder of class folders, not '\(data)'")
            }
            guard OptionCheck.isFolder(realigned) else {
                throw ValidationError("--realigned '\(realigned)' is not a folder (give the folder `mien align` wrote)")
            }
        }
        do {
            // The trained layers do not depend on the backbone: build them on any width now.
            _ = try HeadSpec(head).head(features: 8, classes: 2, seed: 0)
        } catch {
            throw ValidationError("--head: \(error)")
        }
    }
}

/// Progress on stderr: a bar redrawn in place, and a line per finished step. When stderr is
/// not a terminal (a log file, CI), the bar becomes a line every `logInterval` seconds, so a
/// feature pass of minutes still shows in the log.
struct Console {
    let interactive = isatty(2) != 0
    let clock = Stopwatch()
    /// When the last progress line went to a non-terminal stderr.
    let logged = Stopwatch()
    static let logInterval = 10.0

    func status(_ text: String) {
        guard interactive else {
            if logged.seconds >= Console.logInterval {
                logged.restart()
                FileHandle.standardError.write(Data((text + "\n").utf8))
            }
            return
        }
        FileHandle.standardError.write(Data(("\r\u{1B}[2K" + text).utf8))
    }

    func line(_ text: String) {
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[2K" : "") + text + "\n").utf8))
    }

    func render(_ event: FineTuneEvent) {
        switch event {
        case .warning(let text):
            line("warning: \(text)")
        case .dataset(let train, let validation, let classes):
            line("data: " + classes.enumerated().map { "\($1) \(train[$0]) train / \(validation[$0]) validation" }
                .joined(separator: ", "))
        case .realigned(let count, let total, let path):
            line("realigned: \(count) of \(total) faces also as framed in \(path)")
        case .features(let done, let total, let speed):
            status(String(format: "features %@ %d/%d  %.0f img/s", Console.bar(done, total), done, total, speed))
        case .featuresDone(let count, let seconds):
            line(String(format: "features: %d faces through the frozen part in %.1f s (%.0f img/s)",
                        count, seconds, Double(count) / max(seconds, 1e-9)))
        case .cache(let bytes, let shape, let mapped):
            line(String(format: "cache: the frozen part's outputs (%@ per face) take %.0f MB as float16%@",
                        shape.map(String.init).joined(separator: "×"), Double(bytes) / 1e6,
                        mapped ? ", in a mapped file" : " in memory"))
        case .stage(let stage, let tensors, let scalars, let flops):
            line(String(format: "stage %d: training %d weight tensors (%d weights), %.1f MFLOP per face forward",
                        stage, tensors, scalars, Double(flops) / 1e6))
        case .resumed(let epoch):
            line("resumed after epoch \(epoch)")
        case .batch(let p, let batchSize):
            if p.batch == 1 { clock.restart() }
            // Measured from the end of the first batch, so the first line shows no speed yet.
            let elapsed = clock.seconds
            let speed = p.batch > 1 && elapsed > 0 ? Double((p.batch - 1) * batchSize) / elapsed : 0
            let eta = speed > 0 ? Double((p.batches - p.batch) * batchSize) / speed : 0
            status(String(format: "epoch %d/%d %@ %d/%d  loss %.4f  acc %.4f  %.0f img/s  ETA %.1fs",
                          p.epoch, p.epochs, Console.bar(p.batch, p.batches), p.batch, p.batches, p.loss, p.accuracy,
                          speed, eta))
        case .epoch(let r, let epochs, let best):
            var text = String(format: "%@epoch %d/%d  loss %.4f  acc %.4f", r.stage == 2 ? "stage 2 " : "",
                              r.epoch, epochs, r.loss, r.accuracy)
            if let vl = r.valLoss, let va = r.valAccuracy { text += String(format: "  val_loss %.4f  val_acc %.4f", vl, va) }
            text += String(format: "  %.2fs", r.seconds) + (best ? "  (best)" : "")
            line(text)
        case .finished(let best, let path):
            line("wrote \(path)" + (best.map { " (weights of epoch \($0))" } ?? ""))
        }
    }

    static func bar(_ done: Int, _ total: Int, width: Int = 24) -> String {
        let filled = total > 0 ? min(width, done * width / total) : width
        return "[" + String(repeating: "=", count: filled) + (filled < width ? ">" : "")
            + String(repeating: " ", count: max(0, width - filled - 1)) + "]"
    }
}

/// Seconds since the last restart (a class, so the console can restart it while rendering).
final class Stopwatch {
    private var start = ContinuousClock.now

    func restart() { start = ContinuousClock.now }

    var seconds: Double {
        (ContinuousClock.now - start).seconds
    }
}

extension Monitor: ExpressibleByArgument {}
