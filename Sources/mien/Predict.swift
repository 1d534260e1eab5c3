import ArgumentParser
import Foundation
import MienImages
import MienModelFile
import MienNN
import MienTraining

/// `mien predict`: class probabilities and the predicted class for each image.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Predict the class of images (JPEG or PNG files, or folders of them).")

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

    @Flag(help: "Print the model's load time and each image's latency (median and p99 over --repeat runs) to stderr.")
    var timing = false

    @Option(name: .customLong("repeat"), parsing: .unconditional, help: "With --timing: predict each image this many times, one at a time (1...100000).")
    var repetitions: Int = 20

    func validate() throws {
        try OptionCheck.range("--top", top, 1...Int(Int32.max))
        try OptionCheck.threshold(threshold)
        try OptionCheck.range("--batch-size", batchSize, 1...4096)
        try OptionCheck.range("--repeat", repetitions, 1...100_000)
    }

    enum Format: String, ExpressibleByArgument { case json, csv }

    func run() throws {
        try reportingErrors {
            let clock = ContinuousClock()
            let loadStart = clock.now
            let predictor = try Predictor(model: try options.load(model), threshold: threshold)
            let loadTime = clock.now - loadStart
            let files = try imageFiles(images)
            if timing { try reportTiming(predictor, files: files, load: loadTime) }
            var results: [(file: String, prediction: Prediction)] = []
            // Batches of --batch-size images, or fewer when the decoded pixels reach 256 MiB
            // (a folder of large photos must not all be in memory at once).
            var pending: [(file: String, image: Image)] = []
            var pendingBytes = 0
            func flush() throws {
                results += zip(pending.map(\.file), try predictor.predict(images: pending.map(\.image))).map { ($0, $1) }
                pending = []
                pendingBytes = 0
            }
            for file in files {
                let image = try ImageDecoder.decode(contentsOf: file)
                pending.append((file, image))
                pendingBytes += image.pixels.count
                if pending.count == batchSize || pendingBytes >= 256 << 20 { try flush() }
            }
            if !pending.isEmpty { try flush() }
            for (file, prediction) in results where !prediction.scores.allSatisfy(\.isFinite) {
                FileHandle.standardError.write(Data("warning: \(file): the model's scores are not finite (its weights hold NaN or infinity, or overflow); no label\n".utf8))
            }
            print(format == .json ? try json(results) : csv(results, names: predictor.model.outputNames,
                                                                            outputShape: predictor.outputShape))
        }
    }

    /// Single-image latency, decoding included: what an app calling the predictor sees.
    func reportTiming(_ predictor: Predictor, files: [String], load: Duration) throws {
        var latencies: [Double] = []
        let clock = ContinuousClock()
        for file in files {
            for _ in 0..<repetitions {
                let start = clock.now
                _ = try predictor.predict(image: try ImageDecoder.decode(contentsOf: file))
                latencies.append(milliseconds(clock.now - start))
            }
        }
        latencies.sort()
        let median = latencies[latencies.count / 2]
        let p99 = latencies[min(latencies.count - 1, Int((Double(latencies.count) * 0.99).rounded(.up)) - 1)]
        let line = String(format: "timing: load %.2f ms; single image %.3f ms median, %.3f ms p99 over %d runs\n",
                          milliseconds(load), median, p99, latencies.count)
        FileHandle.standardError.write(Data(line.utf8))
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
                let found = names.filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }
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
    func json(_ results: [(file: String, prediction: Prediction)]) throws -> String {
        let objects: [[String: Any]] = results.map { file, p in
            let finite = p.scores.allSatisfy(\.isFinite)
            var object: [String: Any] = ["file": file, "scores": p.scores.map { $0.isFinite ? Double($0) as Any : NSNull() },
                                         "label": finite ? p.label as Any : NSNull()]
            if let top, finite {
                object["top"] = p.ranked.prefix(top).map { ["label": $0.label, "score": Double($0.score)] }
            }
            return object
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    func csv(_ results: [(file: String, prediction: Prediction)], names: [String], outputShape: Shape) -> String {
        func quoted(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        let width = results.first?.prediction.scores.count ?? 0
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
        var lines = [(["file", "label"] + scoreNames).map(quoted).joined(separator: ",")]
        for (file, p) in results {
            let label = p.scores.allSatisfy(\.isFinite) ? p.label : ""
            lines.append(([quoted(file), quoted(label)] + p.scores.map { "\($0)" }).joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }
}
