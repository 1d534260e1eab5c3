import Foundation
import MienTraining

/// Everything the report shows, as numbers: written as `report.json` beside `report.html`.
public struct ReportData: Codable, Sendable {
    /// How the model was made and what it was measured on.
    public var run: RunInfo
    /// The training history (loss and accuracy per epoch), when the model records one.
    public var history: History?
    public var classificationReport: ClassificationReport
    /// Two classes only: ROC and precision–recall curves of the score of the second class,
    /// and where the decision threshold puts the model on them.
    public var curves: BinaryCurves?
    /// The faces the gallery shows, in its order (misclassified first).
    public var gallery: [GalleryEntry]
    /// Per true class: the faces it was surest were another class.
    public var worstMistakes: [[GalleryEntry]]

    public init(run: RunInfo, history: History?, classificationReport: ClassificationReport, curves: BinaryCurves?,
                gallery: Gallery) {
        self.run = run
        self.history = history
        self.classificationReport = classificationReport
        self.curves = curves
        self.gallery = gallery.faces.map(GalleryEntry.init)
        self.worstMistakes = gallery.worstMistakes.map { $0.map(GalleryEntry.init) }
    }
}

/// One face of the gallery, without its pixels.
public struct GalleryEntry: Codable, Sendable, Equatable {
    public var source: String
    public var truth: Int
    public var predicted: Int
    public var scores: [Float]
    public var correct: Bool

    public init(_ face: ScoredFace) {
        source = face.source
        truth = face.truth
        predicted = face.predicted
        scores = face.scores
        correct = face.isCorrect
    }
}

/// The run's settings, as the report lists them.
public struct RunInfo: Codable, Sendable, Equatable {
    /// The model file.
    public var model: String
    /// The faces the model is measured on, and what they are (`test`, `validation`).
    public var data: String
    public var dataRole: String
    public var classes: [String]
    /// Faces per class in `data`.
    public var counts: [Int]
    /// The score from which a face is the second class (one sigmoid output).
    public var threshold: Float
    public var mienVersion: String
    /// Seconds to predict all of `data`.
    public var evaluationSeconds: Double
    /// What the model file records of its training (nil for a model Mien did not train).
    public var training: TrainingInfo?
    /// The test-time augmentation the predictions were made with (`mirror`, `none`).
    public var testTimeAugmentation: String?

    public init(model: String, data: String, dataRole: String, classes: [String], counts: [Int], threshold: Float,
                mienVersion: String, evaluationSeconds: Double, training: TrainingInfo?) {
        self.model = model
        self.data = data
        self.dataRole = dataRole
        self.classes = classes
        self.counts = counts
        self.threshold = threshold
        self.mienVersion = mienVersion
        self.evaluationSeconds = evaluationSeconds
        self.training = training
    }
}

/// The training record a `.mien` file made by `mien train` carries, without the history
/// (`ReportData.history` holds it).
public struct TrainingInfo: Codable, Sendable, Equatable {
    public var settings: FineTuneSettings
    public var data: String
    /// Training faces per class (before the validation split); absent in older files.
    public var classCounts: [Int]?
    /// Wall time of the training run; absent in older files.
    public var seconds: Double?

    public init(_ record: TrainingRecord) {
        settings = record.settings
        data = record.data
        classCounts = record.classCounts
        seconds = record.seconds
    }
}
