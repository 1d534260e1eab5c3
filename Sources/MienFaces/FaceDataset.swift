import Foundation
import MienNN
/// A labelled set of 48×48 gray faces: FER-2013 as users have it (a Kaggle folder layout
/// or the original `fer2013.csv`), or any folder of class sub-folders.
public struct FaceDataset: Sendable {
    /// FER-2013's classes in its label order 0...6.
    public static let fer2013Classes = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    /// Every face is `side × side` pixels.
    public static let side = 48

    /// Label `i` is `classes[i]`.
    public var classes: [String]
    public var faces: [Face]
    /// Unreadable images that were skipped, each naming the file and the problem
    /// ("PATH: truncated JPEG data: ...").
    public var warnings: [String]

    public init(classes: [String], faces: [Face], warnings: [String] = []) {
        self.classes = classes
        self.faces = faces
        self.warnings = warnings
    }

    /// Faces per class, indexed by label.
    public var counts: [Int] {
        var counts = [Int](repeating: 0, count: classes.count)
        for face in faces where counts.indices.contains(face.label) {
            counts[face.label] += 1
        }
        return counts
    }

    public var count: Int { faces.count }

    /// A seeded, stratified split: `validationFraction` of each class (rounded to the
    /// nearest count, halves up) goes to validation, chosen by a seeded shuffle of that
    /// class's faces (one generator stream per class, so a class's split does not depend on
    /// the others). Both parts keep this data set's order; the same seed gives the same split.
    public func split(validationFraction: Double, seed: UInt64) -> (train: FaceDataset, validation: FaceDataset) {
        precondition(validationFraction >= 0 && validationFraction <= 1,
                     "validationFraction must be in 0...1, not \(validationFraction)")
        var byClass = [[Int]](repeating: [], count: classes.count)
        for (i, face) in faces.enumerated() {
            byClass[face.label].append(i)
        }
        var isValidation = [Bool](repeating: false, count: faces.count)
        for (label, indices) in byClass.enumerated() {
            var shuffled = indices
            var generator = SeededGenerator(seed: seed, .split, UInt64(label))
            generator.shuffle(&shuffled)
            let take = Int((validationFraction * Double(indices.count)).rounded())
            for i in shuffled.prefix(take) { isValidation[i] = true }
        }
        let validation = faces.indices.filter { isValidation[$0] }
        let train = faces.indices.filter { !isValidation[$0] }
        return (subset(train), subset(validation))
    }

    /// The same faces framed another way (`mien align`'s output of this folder): for each of
    /// this set's faces in order, the face of `other` in the same class folder with the same
    /// file name up to its extension (`angry/x.jpg` ↔ `angry/x.png`). Faces `other` lacks, and
    /// those it holds unchanged (`mien align` keeps a face it found no face in), are left out,
    /// so that no face counts twice. `other` must have this set's classes, in this order; its
    /// warnings are its own to report.
    public func reframed(by other: FaceDataset) -> FaceDataset {
        precondition(other.classes == classes, "reframed(by:) needs the same classes in the same order")
        func key(_ face: Face) -> String {
            let url = URL(fileURLWithPath: face.source)
            return "\(face.label)/" + url.deletingPathExtension().lastPathComponent
        }
        var byKey: [String: Face] = [:]
        for face in other.faces { byKey[key(face)] = face }
        let matched = faces.compactMap { face -> Face? in
            guard let twin = byKey[key(face)], twin.pixels != face.pixels else { return nil }
            return twin
        }
        return FaceDataset(classes: classes, faces: matched)
    }

    /// This set's faces followed by `other`'s (same classes), with both sets' warnings.
    public func appending(_ other: FaceDataset) -> FaceDataset {
        precondition(other.classes == classes, "appending needs the same classes in the same order")
        return FaceDataset(classes: classes, faces: faces + other.faces, warnings: warnings + other.warnings)
    }

    /// The faces at `indices`, in that order, with the same classes and warnings.
    public func subset(_ indices: [Int]) -> FaceDataset {
        FaceDataset(classes: classes, faces: indices.map { faces[$0] }, warnings: warnings)
    }
}
