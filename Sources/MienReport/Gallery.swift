import Foundation

/// One evaluated face: where it came from, its 48×48 pixels, the truth and the model's answer.
public struct ScoredFace: Sendable, Equatable {
    public var source: String
    /// `side × side` gray bytes, row-major.
    public var pixels: [UInt8]
    public var side: Int
    public var truth: Int
    public var predicted: Int
    /// The model's scores: one sigmoid output, or one probability per class.
    public var scores: [Float]

    public init(source: String, pixels: [UInt8], side: Int, truth: Int, predicted: Int, scores: [Float]) {
        self.source = source
        self.pixels = pixels
        self.side = side
        self.truth = truth
        self.predicted = predicted
        self.scores = scores
    }

    public var isCorrect: Bool { truth == predicted }

    /// The probability the model gave to class `c` (for one sigmoid unit: 1 − s for class 0).
    public func probability(of c: Int) -> Float {
        scores.count == 1 ? (c == 1 ? scores[0] : 1 - scores[0]) : scores[c]
    }

    /// How sure the model was of its answer.
    public var confidence: Float { probability(of: predicted) }
}

/// Which faces the report shows: the misclassified ones first, most confident mistakes
/// first, then correct ones; and, per true class, its most confident mistakes.
public struct Gallery: Sendable {
    public var faces: [ScoredFace]
    /// Per class (by index): its faces the model was surest were another class.
    public var worstMistakes: [[ScoredFace]]

    public init(_ all: [ScoredFace], classes: Int, limit: Int = 48, mistakesPerClass: Int = 6) {
        // Stable: equal confidences keep the data's order, so a report is reproducible.
        func ranked(_ faces: [ScoredFace]) -> [ScoredFace] {
            faces.enumerated().sorted { a, b in
                a.element.confidence != b.element.confidence ? a.element.confidence > b.element.confidence
                                                             : a.offset < b.offset
            }.map(\.element)
        }
        let mistakes = ranked(all.filter { !$0.isCorrect })
        let correct = all.filter(\.isCorrect)
        // At most two thirds mistakes when there are right answers to show; the right ones
        // evenly spaced through the data, so every class appears.
        let mistakeCount = min(mistakes.count, correct.isEmpty ? limit : max(limit * 2 / 3, limit - correct.count))
        let correctCount = min(correct.count, limit - mistakeCount)
        let spaced = (0..<correctCount).map { correct[$0 * correct.count / correctCount] }
        faces = Array(mistakes.prefix(mistakeCount)) + spaced
        worstMistakes = (0..<classes).map { c in Array(mistakes.filter { $0.truth == c }.prefix(mistakesPerClass)) }
    }
}
