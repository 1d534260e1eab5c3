import ArgumentParser
import Foundation
import MienFaceDetection
import MienFaces
import MienFiles
import MienImages
import MienModelFile
import MienNN
import MienTraining

/// `mien predict`: class probabilities and the predicted class for each image; in a photo
/// that is not a face crop, for each face found in it.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict the class of images (JPEG or PNG files, or folders of them).",
        discussion: """
        An image no larger than 96×96 or than the model's input (a 48×48 FER-2013 face) is \
        classified as a face crop. In a larger one, faces are found (MTCNN), each is cut the way FER-2013's faces look \
        and classified: one result per face, with its box, the detector's confidence and its \
        landmarks. --no-detect classifies every image as a crop instead.
        """)

    @Argument(help: "A .mien model, or a Keras .h5 or .keras (see the options for its input).")
    var model: String

    @Argument(help: "Images or folders of images.")
    var images: [String]

    @OptionGroup var options: ModelOptions

    @Option(help: "Output format: json or csv.")
    var format: Format = .json

    @Option(parsing: .unconditional, help: "List the K best classes for each image (K ≥ 1).")
    var top: Int?

    @Option(parsing: .unconditional, help: "For one sigmoid output: the score from which an image is the second class, 0...1.")
    var threshold: Float = 0.5

    @Option(parsing: .unconditional, help: "Images per forward pass, 1...4096.")
    var batchSize: Int = 32

    @Flag(help: "Print the load time (the model's, and for photos the face detector's) and each image's latency (median and p99 over --repeat runs, after one untimed run) to stderr; for photos also the medians of decoding, finding the faces, and cutting and classifying them.")
    var timing = false

    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "With --timing: predict each image this many times, one at a time (1...100000).")
    var repetitions: Int = 20

    @Flag(help: "Classify every image as a face crop (resized to the model's input), without looking for faces.")
    var noDetect = false

    @Option(help: "Write the image with each face's box and label drawn on it to this PNG file (one image only).")
    var annotate: String?

    @OptionGroup var detection: DetectorOptions

    func validate() throws {
        try OptionCheck.range("--top", top, 1...Int(Int32.max))
        try OptionCheck.threshold(threshold)
        try OptionCheck.range("--batch-size", batchSize, 1...4096)
        try OptionCheck.range("--repeat", repetitions, 1...100_000)
        if annotate != nil {
            guard !noDetect else { throw ValidationError("--annotate draws the faces found: it cannot go with --no-detect") }
            guard images.count == 1 else { throw ValidationError("--annotate takes one image, got \(images.count)") }
        }
    }

    enum Format: String, ExpressibleByArgument { case json, csv }

    /// Images up to this side (or up to the model's input) are taken as face crops, as
    /// before face detection: FER-2013's faces are 48×48, and a face that fills a picture
    /// this small leaves MTCNN nothing around it to find.
    static let largestCrop = 96

    /// One image's result: the image as a face crop, or the faces found in a photo.
    enum Outcome {
        case crop(Prediction)
        case faces([FaceResult])
    }

    func run() throws {
        try reportingErrors {
            let clock = ContinuousClock()
            let loadStart = clock.now
            let predictor = try Predictor(model: try options.load(model), threshold: threshold)
            let loadTime = clock.now - loadStart
            let files = try imageFiles(images)
            if annotate != nil, files.count != 1 {
                throw ValidationError("--annotate takes one image, but \(images[0]) holds \(files.count)")
            }
            // Loaded on the first photo that is not a crop: crops alone need no detector.
            var photoPredictor: PhotoPredictor?
            func photos() throws -> PhotoPredictor {
                if let photoPredictor { return photoPredictor }
                let made = try PhotoPredictor(detector: try detection.load(model: model), predictor: predictor)
                photoPredictor = made
                return made
            }
            func isCrop(_ image: Image) -> Bool {
                noDetect || (image.height <= max(predictor.imageSize.height, Self.largestCrop)
                             && image.width <= max(predictor.imageSize.width, Self.largestCrop))
            }
            if timing { try reportTiming(predictor, files: files, load: loadTime, photos: photos, isCrop: isCrop) }
            var results: [(file: String, outcome: Outcome?)] = files.map { ($0, nil) }
            // Crops in batches of --batch-size images, or fewer when the decoded pixels reach
            // 256 MiB (a folder of large photos must not all be in memory at once).
            var pending: [(index: Int, image: Image)] = []
            var pendingBytes = 0
            func flush() throws {
                for (item, prediction) in zip(pending, try predictor.predict(images: pending.map(\.image))) {
                    results[item.index].outcome = .crop(prediction)
                }
                pending = []
                pendingBytes = 0
            }
            for (index, file) in files.enumerated() {
                let image = try ImageDecoder.decode(contentsOf: file)
                if isCrop(image) {
                    pending.append((index, image))
                    pendingBytes += image.pixels.count
                    if pending.count == batchSize || pendingBytes >= 256 << 20 { try flush() }
                    continue
                }
                let found = try photos().predict(photo: image, source: file)
                results[index].outcome = .faces(found)
                if let annotate {
                    let drawn = PhotoPredictor.annotate(image, found)
                    try AtomicFile.write(try PNGEncoder.encode(drawn), to: annotate) { written in
                        _ = try ImageDecoder.decode(contentsOf: written)
                    }
                }
            }
            if !pending.isEmpty { try flush() }
            if let annotate, case .crop = results[0].outcome {
                throw ValidationError("--annotate: \(files[0]) is no larger than \(Self.largestCrop)×\(Self.largestCrop) or the model's input, so it is taken as a face crop and has no faces to draw (\(annotate) not written)")
            }
            let outcomes = results.map { ($0.file, $0.outcome!) }
            for (file, outcome) in outcomes {
                let scores: [[Float]]
                switch outcome {
                case .crop(let p): scores = [p.scores]
                case .faces(let faces): scores = faces.map(\.prediction.scores)
                }
                if !scores.allSatisfy({ $0.allSatisfy(\.isFinite) }) {
                    FileHandle.standardError.write(Data("warning: \(file): the model's scores are not finite (its weights hold NaN or infinity, or overflow); no label\n".utf8))
                }
            }
            print(format == .json ? try json(outcomes) : csv(outcomes, names: predictor.model.outputNames,
                                                             outputShape: predictor.outputShape))
        }
    }

    /// Single-image latency, decoding included: what an app calling the predictor sees (for
    /// a photo: decoding, finding the faces, cutting and classifying them).
    func reportTiming(_ predictor: Predictor, files: [String], load: Duration, photos: () throws -> PhotoPredictor,
                      isCrop: (Image) -> Bool) throws {
        var latencies: [Double] = []
        // A photo's latency split: decoding, finding the faces, cutting and classifying them.
        var phases: (decode: [Double], detect: [Double], classify: [Double]) = ([], [], [])
        let clock = ContinuousClock()
        var load = load
        for file in files {
            func predict(_ image: Image) throws -> (detect: Duration, classify: Duration)? {
                if isCrop(image) {
                    _ = try predictor.predict(image: image)
                    return nil
                }
                let timed = try photos().timedPredict(photo: image, source: file)
                return (timed.detect, timed.classify)
            }
            // The face detector is loaded before the timed runs (and counted in the load time),
            // and one untimed run warms the caches, as the peers are timed: before, the first
            // run did both and was the slowest of 50 timed runs, their p99.
            let first = try ImageDecoder.decode(contentsOf: file)
            if !isCrop(first) {
                let start = clock.now
                _ = try photos()
                load += clock.now - start
            }
            _ = try predict(first)
            for _ in 0..<repetitions {
                let start = clock.now
                let image = try ImageDecoder.decode(contentsOf: file)
                let decoded = clock.now
                let split = try predict(image)
                latencies.append(milliseconds(clock.now - start))
                if let split {
                    phases.decode.append(milliseconds(decoded - start))
                    phases.detect.append(milliseconds(split.detect))
                    phases.classify.append(milliseconds(split.classify))
                }
            }
        }
        func median(_ values: [Double]) -> Double { Bench.percentile(values, 50) }
        let line = String(format: "timing: load %.2f ms; single image %.3f ms median, %.3f ms p99 over %d runs\n",
                          milliseconds(load), median(latencies), Bench.percentile(latencies, 99), latencies.count)
        FileHandle.standardError.write(Data(line.utf8))
        if !phases.decode.isEmpty {
            let split = String(format: "timing: photos, medians: decode %.3f ms, find the faces %.3f ms, cut and classify them %.3f ms\n",
                               median(phases.decode), median(phases.detect), median(phases.classify))
            FileHandle.standardError.write(Data(split.utf8))
        }
    }

    func milliseconds(_ d: Duration) -> Double {
        d.seconds * 1000
    }

    /// The files named, and the images directly inside the folders named, sorted.
    func imageFiles(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw ImageError(path: path, message: "no such file or folder")
            }
            if isFolder.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                let found = names.filter { FaceDataset.imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
                guard !found.isEmpty else { throw ImageError(path: path, message: "the folder has no .jpg, .jpeg or .png images") }
                files += found.map { (path as NSString).appendingPathComponent($0) }
            } else {
                files.append(path)
            }
        }
        return files
    }

    /// JSON has no NaN: a non-finite score is written as null, and so is the label it
    /// cannot decide (a warning names the image).
    func json(_ results: [(file: String, outcome: Outcome)]) throws -> String {
        let objects: [[String: Any]] = results.map { file, outcome in
            switch outcome {
            case .crop(let p):
                return p.jsonObject(top: top).merging(["file": file]) { $1 }
            case .faces(let faces):
                return ["file": file, "faces": faces.map { $0.jsonObject(top: top) }]
            }
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// One row per crop, or per face of a photo; when any image is a photo, the columns
    /// `face` (its rank in the photo), the box and the detector's `confidence` come after
    /// `file` (empty for a crop, and for a photo without faces, which keeps one row).
    func csv(_ results: [(file: String, outcome: Outcome)], names: [String], outputShape: Shape) -> String {
        func quoted(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        typealias Row = (file: String, face: [String], prediction: Prediction?)
        let none = [String](repeating: "", count: 6)
        let rows: [Row] = results.flatMap { file, outcome -> [Row] in
            switch outcome {
            case .crop(let p):
                return [(file, none, p)]
            case .faces(let faces) where faces.isEmpty:
                return [(file, none, nil)]
            case .faces(let faces):
                return faces.enumerated().map { i, r in
                    let b = r.face.box
                    return (file, ["\(i)", "\(b.x)", "\(b.y)", "\(b.width)", "\(b.height)", "\(r.face.confidence)"], r.prediction)
                }
            }
        }
        let detected = results.contains { if case .faces = $0.outcome { return true } else { return false } }
        let width = rows.compactMap(\.prediction).first?.scores.count ?? (outputShape.last.flatMap { $0 } ?? 0)
        // One column per value: a class's score, or for a feature map each position
        // (`value_h_w_c`, in the row-major order the values come in).
        let map = outputShape.dropFirst().map { $0 ?? 0 }
        let scoreNames: [String]
        if map.count > 1 && map.reduce(1, *) == width {
            scoreNames = (0..<width).map { flat in
                var rest = flat, index: [Int] = []
                for length in map.reversed() { index.insert(rest % length, at: 0); rest /= length }
                return "value_" + index.map(String.init).joined(separator: "_")
            }
        } else if width == 1 {
            scoreNames = ["score"]
        } else if names.count == width {
            scoreNames = names.map { "score_\($0)" }
        } else {
            scoreNames = (0..<width).map { "value_\($0)" }
        }
        let faceNames = detected ? ["face", "box_x", "box_y", "box_width", "box_height", "confidence"] : []
        var lines = [(["file"] + faceNames + ["label"] + scoreNames).map(quoted).joined(separator: ",")]
        for row in rows {
            let p = row.prediction
            let label = p.map { $0.scores.allSatisfy(\.isFinite) ? $0.label : "" } ?? ""
            let scores = p?.scores.map { "\($0)" } ?? [String](repeating: "", count: width)
            lines.append(([quoted(row.file)] + (detected ? row.face : []) + [quoted(label)] + scores).joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }
}
