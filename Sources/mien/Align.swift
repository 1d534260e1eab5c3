import ArgumentParser
import Dispatch
import Foundation
import MienFaceDetection
import MienFaces
import MienFiles
import MienImages
import MienNN

/// `mien align`: a folder of face crops cut again the way `mien predict` cuts faces out of
/// photos, so that a model trained on them reads photos as it read its validation faces.
struct Align: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cut a folder of face crops again the way faces are cut from photos (to train models for photos).",
        discussion: """
        Each image under SOURCE (class folders in the Kaggle layout, or any tree) is searched \
        for its face (MTCNN, the crop scaled 3× on a gray canvas), squared and turned by the \
        landmarks as `mien predict` does in photos, and written in gray at --size as PNG to \
        the same place under --output. A crop in which no face is found is written resized \
        (or left out with --unfound skip). Files already in --output are kept: an interrupted \
        run goes on where it stopped.
        """)

    @Argument(help: "A folder of face crops (JPEG or PNG), e.g. fer2013/train.")
    var source: String

    @Option(name: .shortAndLong, help: "The folder to write; its tree mirrors SOURCE's.")
    var output: String

    @Option(parsing: .unconditional, help: "The side of the faces written, 8...1024.")
    var size: Int = 48

    enum Unfound: String, ExpressibleByArgument { case keep, skip }

    @Option(help: "A crop with no face found: keep (written resized, as it was framed) or skip.")
    var unfound: Unfound = .keep

    @Flag(help: "Stop at an unreadable image instead of skipping it with a warning.")
    var strict = false

    @OptionGroup var detection: DetectorOptions

    func validate() throws {
        try OptionCheck.range("--size", size, 8...1024)
    }

    /// One crop's fate.
    enum Outcome: Sendable { case realigned, kept, skipped, unreadable(String) }

    func run() throws {
        try reportingErrors {
            let sourceURL = URL(fileURLWithPath: source).standardizedFileURL
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: sourceURL.path, isDirectory: &isFolder), isFolder.boolValue else {
                throw ImageError(path: source, message: "not a folder")
            }
            let outputURL = URL(fileURLWithPath: output).standardizedFileURL
            guard outputURL.path != sourceURL.path, !outputURL.path.hasPrefix(sourceURL.path + "/") else {
                throw ValidationError("--output \(output) lies inside \(source): write the aligned faces elsewhere")
            }
            let jobs = try plan(sourceURL, outputURL)
            guard !jobs.isEmpty else { throw ImageError(path: source, message: "the folder holds no .jpg, .jpeg or .png images") }
            let detector = try detection.load(model: source)
            let console = Console()
            let todo = jobs.filter { !FileManager.default.fileExists(atPath: $0.to) }
            if todo.count < jobs.count { console.line("align: \(jobs.count - todo.count) of \(jobs.count) faces already in \(output), going on") }
            var counts = (realigned: 0, kept: 0, skipped: 0, unreadable: 0)
            let chunk = 64 * BatchRunner.cores
            for start in stride(from: 0, to: todo.count, by: chunk) {
                let part = Array(todo[start..<min(todo.count, start + chunk)])
                // The chunk's folders once, not a call per face.
                for folder in Set(part.map { ($0.to as NSString).deletingLastPathComponent }) {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                }
                let results = ConcurrentResults<Outcome>(count: part.count)
                DispatchQueue.concurrentPerform(iterations: part.count) { i in
                    results.set(i, Result { try align(part[i].from, to: part[i].to, detector) })
                }
                for i in part.indices {
                    switch try results.get(i).get() {
                    case .realigned: counts.realigned += 1
                    case .kept: counts.kept += 1
                    case .skipped: counts.skipped += 1
                    case .unreadable(let message):
                        if strict { throw ImageError(path: part[i].from, message: message) }
                        counts.unreadable += 1
                        console.line("warning: \(part[i].from): \(message) (skipped)")
                    }
                }
                let done = start + part.count
                console.status("align \(Console.bar(done, todo.count)) \(done)/\(todo.count)  \(counts.realigned) realigned")
            }
            if console.interactive { console.line("") }
            // Even when every crop was left out, the folder asked for exists.
            try FileManager.default.createDirectory(at: outputURL, withIntermediateDirectories: true)
            print("align: \(counts.realigned) of \(todo.count) faces realigned into \(output)"
                  + (counts.kept > 0 ? "; \(counts.kept) with no face found written as they were framed" : "")
                  + (counts.skipped > 0 ? "; \(counts.skipped) with no face found left out" : "")
                  + (counts.unreadable > 0 ? "; \(counts.unreadable) unreadable, skipped" : ""))
        }
    }

    /// Every image under `root` (sorted, hidden files left out) and its PNG under `output`.
    func plan(_ root: URL, _ output: URL) throws -> [(from: String, to: String)] {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil,
                                                          options: [.skipsHiddenFiles]) else {
            throw ImageError(path: source, message: "cannot list the folder")
        }
        var jobs: [(from: String, to: String)] = []
        var seen: [String: String] = [:]
        let prefix = root.path.hasSuffix("/") ? root.path : root.path + "/"
        for case let url as URL in walker {
            // Links are followed (a dataset is often a tree of links); a FIFO or device named
            // .png is left to the decoder, which refuses it by name.
            var isFolder: ObjCBool = false
            guard FaceDataset.imageExtensions.contains(url.pathExtension.lowercased()),
                  FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            let path = url.standardizedFileURL.path
            guard path.hasPrefix(prefix) else { continue }
            let relative = (String(path.dropFirst(prefix.count)) as NSString).deletingPathExtension + ".png"
            let to = output.appendingPathComponent(relative).path
            if let other = seen[to] {
                throw ImageError(path: path, message: "would be written to \(to), as \(other) is (rename one of them)")
            }
            seen[to] = path
            jobs.append((path, to))
        }
        return jobs.sorted { $0.from < $1.from }
    }

    /// One crop: decoded, realigned (or resized, or left out) and written atomically.
    func align(_ from: String, to: String, _ detector: FaceDetector) throws -> Outcome {
        let crop: Image
        do {
            crop = try ImageDecoder.decode(contentsOf: from)
        } catch let error as ImageError {
            return .unreadable(error.message)
        }
        let image: Image
        let outcome: Outcome
        if let found = try detector.realign(crop: crop, size: size) {
            (image, outcome) = (found.image, .realigned)
        } else if unfound == .keep {
            (image, outcome) = (FaceCrop.whole(crop).cut(from: crop, size: size), .kept)
        } else {
            return .skipped
        }
        try AtomicFile.write(try PNGEncoder.encode(image), to: to) { written in
            _ = try ImageDecoder.decode(contentsOf: written)
        }
        return outcome
    }
}
