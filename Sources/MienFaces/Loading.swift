import CSV
import Dispatch
import Foundation
import MienImages
import MienFiles
import MienNN

extension FaceDataset {
    /// The `Usage` values of `fer2013.csv`.
    public static let fer2013Usages = ["Training", "PublicTest", "PrivateTest"]

    /// The largest `fer2013.csv` read: 2 GiB (the original is 301 MB).
    public static let maxCSVBytes = 2 << 30

    /// The image file extensions a class folder is searched for (any case).
    public static let imageExtensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Loads a Kaggle-layout folder (`DIR/<class>/*.jpg|jpeg|png`) or a `fer2013.csv`.
    ///
    /// - Parameters:
    ///   - path: the folder (one subfolder per class) or the `fer2013.csv` file.
    ///   - classes: the classes and their label order (label `i` is `classes[i]`); nil: every
    ///     class folder (sorted by name), or the seven FER-2013 classes in their label order
    ///     for the CSV.
    ///   - usage: for the CSV only, keeps the rows of one `Usage` (Training, PublicTest,
    ///     PrivateTest).
    ///   - strict: an unreadable or truncated image is an error instead of a warning.
    ///
    /// Images of another size are resized to 48×48 (bilinear, as Keras's `Resizing`:
    /// `MienNN.Resizing`) and rounded to bytes; colour images are converted to luminance first
    /// (`Image.grayscale()`, Pillow's `convert("L")`). Files are decoded in parallel, and the
    /// faces come out in a deterministic order: by label, then by file name (folders) or by
    /// line (CSV). Hidden files and files with other extensions are ignored.
    ///
    /// - Throws: `FaceDataError` naming the path: a missing folder or file; a requested class
    ///   with no folder; a class folder without images; a class name that is not one of the
    ///   CSV's seven; a malformed CSV row (with its line number); no faces at all; with
    ///   `strict`, the first unreadable image.
    public static func load(_ path: String, classes: [String]? = nil, usage: String? = nil,
                            strict: Bool = false) throws -> FaceDataset {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FaceDataError(path: path, message: "no such file or folder")
        }
        if let classes {
            guard !classes.isEmpty else { throw FaceDataError(path: path, message: "no classes requested") }
            var seen = Set<String>()
            for name in classes where !seen.insert(name).inserted {
                throw FaceDataError(path: path, message: "class '\(name)' is requested twice")
            }
        }
        if isDirectory.boolValue {
            if let usage {
                throw FaceDataError(path: path, message:
                    "usage '\(usage)' only applies to a fer2013.csv file; a folder layout is split by folder (train/, test/)")
            }
            return try loadFolder(path, classes: classes, strict: strict)
        }
        if imageExtensions.contains(URL(fileURLWithPath: path).pathExtension.lowercased()) {
            throw FaceDataError(path: path, message:
                "is an image; pass a folder layout (DIR/<class>/*.jpg) or a fer2013.csv file")
        }
        return try loadCSV(path, classes: classes, usage: usage)
    }

    // MARK: - Folder layout

    private static func loadFolder(_ directory: String, classes requested: [String]?, strict: Bool) throws -> FaceDataset {
        let fileManager = FileManager.default
        let entries: [String]
        do {
            entries = try fileManager.contentsOfDirectory(atPath: directory)
        } catch {
            throw FaceDataError(path: directory, message: "cannot list the folder: \(error.localizedDescription)")
        }
        func isFolder(_ path: String) -> Bool {
            var isDirectory: ObjCBool = false
            return fileManager.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        let found = entries.filter { !$0.hasPrefix(".") && isFolder(join(directory, $0)) }.sorted()

        let classes: [String]
        if let requested {
            for name in requested where !found.contains(name) {
                let list = found.isEmpty ? "no class folders" : "found: " + found.joined(separator: ", ")
                throw FaceDataError(path: directory, message: "no class folder '\(name)'; \(list)")
            }
            classes = requested
        } else {
            guard !found.isEmpty else {
                throw FaceDataError(path: directory, message:
                    "no class folders (expected the Kaggle layout DIR/<class>/*.jpg, e.g. train/happy/)")
            }
            classes = found
        }

        // Every image file, by label and then file name.
        var files: [(path: String, label: Int)] = []
        for (label, name) in classes.enumerated() {
            let folder = join(directory, name)
            let names: [String]
            do {
                names = try fileManager.contentsOfDirectory(atPath: folder)
            } catch {
                throw FaceDataError(path: folder, message: "cannot list the folder: \(error.localizedDescription)")
            }
            let images = names.filter { file in
                guard !file.hasPrefix("."), let dot = file.lastIndex(of: ".") else { return false }
                return imageExtensions.contains(file[file.index(after: dot)...].lowercased())
            }.sorted()
            guard !images.isEmpty else {
                let subfolders = names.filter { !$0.hasPrefix(".") && isFolder(join(folder, $0)) }.sorted()
                let hint = subfolders.isEmpty ? "" :
                    " (it holds folders: \(subfolders.prefix(8).joined(separator: ", ")); pass \(folder) itself?)"
                throw FaceDataError(path: folder, message: "class folder '\(name)' has no .jpg, .jpeg or .png images\(hint)")
            }
            files += images.map { (join(folder, $0), label) }
        }

        // Decode in parallel; each chunk writes its own slots.
        let results = decodeAll(files.map(\.path))
        var faces: [Face] = []
        faces.reserveCapacity(files.count)
        var warnings: [String] = []
        for (file, result) in zip(files, results) {
            switch result {
            case .success(let pixels):
                faces.append(Face(pixels: pixels, label: file.label, source: file.path))
            case .failure(let error):
                if strict { throw error }
                warnings.append(error.description + " (skipped)")
            }
        }
        guard !faces.isEmpty else {
            throw FaceDataError(path: directory, message: "no faces could be read (\(warnings.count) unreadable images)")
        }
        return FaceDataset(classes: classes, faces: faces, warnings: warnings)
    }

    /// Decodes every file to 48×48 gray bytes, in parallel, results in input order.
    private static func decodeAll(_ paths: [String]) -> [Result<[UInt8], FaceDataError>] {
        let box = ResultBox(count: paths.count)
        let chunks = min(paths.count, max(1, ProcessInfo.processInfo.activeProcessorCount * 8))
        guard chunks > 0 else { return [] }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = paths.count * chunk / chunks, end = paths.count * (chunk + 1) / chunks
            for i in start..<end {
                box.set(i, decodeFace(paths[i]))
            }
        }
        return box.results
    }

    /// One image file as 48×48 gray bytes: decoded as Pillow does, converted to luminance,
    /// resized bilinearly if needed.
    static func decodeFace(_ path: String) -> Result<[UInt8], FaceDataError> {
        let image: Image
        do {
            image = try ImageDecoder.decode(contentsOf: path, channels: 1)
        } catch let error as ImageError {
            return .failure(FaceDataError(path: path, message: error.message))
        } catch {
            return .failure(FaceDataError(path: path, message: "\(error)"))
        }
        if image.width == side && image.height == side { return .success(image.pixels) }
        do {
            return .success(try resizedToFace(image))
        } catch {
            return .failure(FaceDataError(path: path, message: "cannot resize \(image.width)×\(image.height) to \(side)×\(side): \(error)"))
        }
    }

    /// A gray image resized to 48×48 as Keras's `Resizing` does, rounded to the nearest byte.
    static func resizedToFace(_ image: Image) throws -> [UInt8] {
        let input = Tensor(shape: [1, image.height, image.width, 1], scalars: image.pixels.map(Float.init))
        let output = try Resizing(name: "face_resize", height: side, width: side, interpolation: .bilinear)
            .forward([input])
        return output.scalars.map { UInt8(min(max($0.rounded(), 0), 255)) }
    }

    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    // MARK: - fer2013.csv

    private static func loadCSV(_ path: String, classes requested: [String]?, usage: String?) throws -> FaceDataset {
        // A FIFO would block the reader; a file past the limit would fill memory with faces.
        let size: Int
        do {
            size = try RegularFile.size(path)
        } catch let error as FileError {
            throw FaceDataError(path: path, message: error.message)
        }
        guard size <= maxCSVBytes else {
            throw FaceDataError(path: path, message: "the file has \(size) bytes, more than the \(maxCSVBytes)-byte limit for a fer2013.csv (the original is 301 MB)")
        }
        guard let stream = InputStream(fileAtPath: path) else {
            throw FaceDataError(path: path, message: "cannot open the file")
        }
        return try loadCSV(stream, path: path, classes: requested, usage: usage)
    }

    /// A `fer2013.csv` held in memory (`path` names it in errors), read exactly as a file is.
    public static func loadCSV(bytes: [UInt8], path: String = "<memory>", classes: [String]? = nil,
                               usage: String? = nil) throws -> FaceDataset {
        try loadCSV(InputStream(data: Data(bytes)), path: path, classes: classes, usage: usage)
    }

    private static func loadCSV(_ stream: InputStream, path: String, classes requested: [String]?,
                                usage: String?) throws -> FaceDataset {
        if let usage, !fer2013Usages.contains(usage) {
            throw FaceDataError(path: path, message:
                "unknown usage '\(usage)'; expected \(fer2013Usages.joined(separator: ", "))")
        }
        // Label in the file (FER-2013's 0...6) -> label in the data set, or nil to skip.
        var labelMap = [Int?](repeating: nil, count: fer2013Classes.count)
        let classes = requested ?? fer2013Classes
        for (label, name) in classes.enumerated() {
            guard let ferLabel = fer2013Classes.firstIndex(of: name) else {
                throw FaceDataError(path: path, message:
                    "class '\(name)' is not one of the FER-2013 classes: \(fer2013Classes.joined(separator: ", "))")
            }
            labelMap[ferLabel] = label
        }

        let reader: CSVReader
        do {
            reader = try CSVReader(stream: stream, hasHeaderRow: true)
        } catch CSVError.cannotReadHeaderRow {
            throw FaceDataError(path: path, message: "empty file: no 'emotion,pixels,Usage' header")
        } catch {
            throw FaceDataError(path: path, message: "cannot read the file: \(error)")
        }
        let header = (reader.headerRow ?? []).map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        func column(_ name: String) -> Int? { header.firstIndex(of: name.lowercased()) }
        // Only FER-2013's columns, each once: another column (or a second 'pixels') would be a
        // file of another layout, read as if it were this one.
        if let other = header.enumerated().first(where: { i, name in
            !["emotion", "pixels", "usage"].contains(name) || header.firstIndex(of: name) != i
        }) {
            throw FaceDataError(path: path, message:
                "line 1: unexpected column '\((reader.headerRow ?? [])[other.offset])'; fer2013.csv has the columns emotion, pixels and Usage, each once")
        }
        guard let emotionColumn = column("emotion"), let pixelsColumn = column("pixels") else {
            throw FaceDataError(path: path, message:
                "line 1: expected the header 'emotion,pixels,Usage', found '\((reader.headerRow ?? []).joined(separator: ",").prefix(80))'")
        }
        let usageColumn = column("usage")
        if usage != nil && usageColumn == nil {
            throw FaceDataError(path: path, message: "line 1: no 'Usage' column to select usage '\(usage!)' by")
        }

        let area = side * side
        var rows: [(label: Int, line: Int, pixels: [UInt8])] = []
        var line = 1
        while let row = reader.next() {
            line += 1
            if row.count == 1 && row[0].isEmpty { continue }          // a blank line
            func malformed(_ message: String) -> FaceDataError {
                FaceDataError(path: path, message: "line \(line): \(message)")
            }
            guard row.count == header.count else {
                throw malformed("expected \(header.count) fields (\(reader.headerRow!.joined(separator: ","))), found \(row.count)")
            }
            let emotionText = row[emotionColumn].trimmingCharacters(in: .whitespaces)
            guard let emotion = Int(emotionText), fer2013Classes.indices.contains(emotion) else {
                throw malformed("emotion '\(emotionText)' is not a FER-2013 label 0...6")
            }
            if let usageColumn {
                let rowUsage = row[usageColumn].trimmingCharacters(in: .whitespaces)
                guard fer2013Usages.contains(rowUsage) else {
                    throw malformed("Usage '\(rowUsage)' is not one of \(fer2013Usages.joined(separator: ", "))")
                }
            }
            // Every row's pixels are checked, even for classes and usages that are not kept:
            // a malformed file is refused whichever part of it is asked for.
            let pixels = try parsePixels(row[pixelsColumn], count: area, malformed: malformed)
            if let usage, let usageColumn, row[usageColumn].trimmingCharacters(in: .whitespaces) != usage { continue }
            if let label = labelMap[emotion] {
                rows.append((label, line, pixels))
            }
        }
        if let error = reader.error {
            // On Linux, Foundation's file InputStream says it has bytes available at the end of
            // the file, so CSV.swift's reader ends every file with `cannotReadFile` after a read
            // of 0 bytes; the stream is then `atEnd`. Any other error is real.
            let atEnd = stream.streamStatus == .atEnd || stream.streamStatus == .closed
            if !(atEnd && isEndOfFileArtefact(error)) {
                throw FaceDataError(path: path, message: "cannot read the file after line \(line): \(error)")
            }
        }
        guard !rows.isEmpty else {
            let what = usage.map { " with usage '\($0)'" } ?? ""
            throw FaceDataError(path: path, message: "no faces\(what) of the classes \(classes.joined(separator: ", "))")
        }
        rows.sort { ($0.label, $0.line) < ($1.label, $1.line) }
        let faces = rows.map { Face(pixels: $0.pixels, label: $0.label, source: "\(path):\($0.line)") }
        return FaceDataset(classes: classes, faces: faces, warnings: [])
    }

    private static func isEndOfFileArtefact(_ error: Error) -> Bool {
        if case CSVError.cannotReadFile = error { return true }
        return false
    }

    /// `count` space-separated integers 0...255.
    private static func parsePixels(_ text: String, count: Int,
                                    malformed: (String) -> FaceDataError) throws -> [UInt8] {
        var pixels: [UInt8] = []
        pixels.reserveCapacity(count)
        var value = 0, digits = 0
        var bad: String? = nil
        func flush() {
            guard digits > 0 else { return }
            if value > 255 { bad = bad ?? "pixel value \(value) is out of 0...255" }
            pixels.append(UInt8(truncatingIfNeeded: min(value, 255)))
            value = 0
            digits = 0
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = digits < 4 ? value * 10 + Int(byte - UInt8(ascii: "0")) : 9999
                digits += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"):
                flush()
            default:
                bad = bad ?? "the pixels hold '\(Character(Unicode.Scalar(byte)))', not space-separated integers"
            }
            if bad != nil { break }
        }
        flush()
        if let bad { throw malformed(bad) }
        guard pixels.count == count else {
            throw malformed("expected \(count) pixel values (\(side)×\(side)), found \(pixels.count)")
        }
        return pixels
    }
}

/// Per-file results written from `concurrentPerform`'s threads, each index by one thread.
private final class ResultBox: @unchecked Sendable {
    private let base: UnsafeMutablePointer<Result<[UInt8], FaceDataError>>
    private let count: Int

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: count)
        base.initialize(repeating: .success([]), count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    func set(_ index: Int, _ value: Result<[UInt8], FaceDataError>) {
        base[index] = value
    }

    var results: [Result<[UInt8], FaceDataError>] {
        Array(UnsafeBufferPointer(start: base, count: count))
    }
}
