import ArgumentParser
import MienFaces
import Foundation

/// Checks of option values, run by each command's `validate()` before any file is read, so
/// a bad value stops `mien` at once with the option named and its valid range.
enum OptionCheck {
    /// `value` must lie in `range` (a NaN lies in none).
    static func range<T: Comparable>(_ option: String, _ value: T, _ range: ClosedRange<T>) throws {
        guard range.contains(value) else {
            throw ValidationError("\(option) must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
    }

    static func range<T: Comparable>(_ option: String, _ value: T?, _ range: ClosedRange<T>) throws {
        if let value { try self.range(option, value, range) }
    }

    static func finite(_ option: String, _ value: Float) throws {
        guard value.isFinite else { throw ValidationError("\(option) must be a finite number, got \(value)") }
    }

    /// A comma-separated list of class names: non-empty, distinct.
    static func classes(_ option: String, _ text: String, atLeast minimum: Int = 1) throws -> [String] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.contains(where: \.isEmpty) else {
            throw ValidationError("\(option) '\(text)' has an empty class name")
        }
        guard Set(names).count == names.count else {
            throw ValidationError("\(option) '\(text)' names a class twice")
        }
        guard names.count >= minimum else {
            throw ValidationError("\(option) needs at least \(minimum) classes, got \(names.count) ('\(text)')")
        }
        return names
    }

    /// `--usage` selects rows of a fer2013.csv; with a folder of class folders it means nothing.
    static func usage(_ usage: String?, data: String) throws {
        guard let usage else { return }
        guard FaceDataset.fer2013Usages.contains(usage) else {
            throw ValidationError("--usage must be one of \(FaceDataset.fer2013Usages.joined(separator: ", ")), got '\(usage)'")
        }
        guard !isFolder(data) else {
            throw ValidationError("--usage selects rows of a fer2013.csv; --data \(data) is a folder (a folder layout is split by folder: train/, test/)")
        }
    }

    /// Whether `path` is a folder (then it holds class folders; otherwise it is a CSV).
    static func isFolder(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The threshold of one sigmoid output.
    static func threshold(_ value: Float) throws {
        try range("--threshold", value, 0...1)
    }
}
