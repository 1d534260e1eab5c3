import MienFaces
import Foundation
import MienImages
import MienModelFile

/// Runs a model over labelled faces and keeps every answer, for the metrics and the gallery.
public enum Evaluation {
    /// Each face's scores and predicted class, in the data's order, `chunk` faces per call
    /// (the predictor splits each chunk over the cores).
    public static func score(_ predictor: Predictor, faces: FaceDataset, chunk: Int = 256) throws -> [ScoredFace] {
        let side = FaceDataset.side
        var scored: [ScoredFace] = []
        scored.reserveCapacity(faces.faces.count)
        for start in stride(from: 0, to: faces.faces.count, by: chunk) {
            let part = faces.faces[start..<min(start + chunk, faces.faces.count)]
            let images = part.map { Image(width: side, height: side, channels: 1, pixels: $0.pixels) }
            for (face, prediction) in zip(part, try predictor.predict(images: images)) {
                // Metrics of NaN scores would be made up: the classes of NaN are not defined.
                guard prediction.scores.allSatisfy(\.isFinite) else {
                    throw EvaluationError(description: "\(face.source): the model's scores for this face are not finite (\(prediction.scores.map { "\($0)" }.joined(separator: ", "))): its weights hold NaN or infinity, or overflow")
                }
                scored.append(ScoredFace(source: face.source, pixels: face.pixels, side: side, truth: face.label,
                                         predicted: prediction.index, scores: prediction.scores))
            }
        }
        return scored
    }
}

/// An evaluation that cannot give meaningful numbers.
public struct EvaluationError: Error, CustomStringConvertible {
    public var description: String
}
