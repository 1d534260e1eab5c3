import ArgumentParser
import Foundation
import MienFaceDetection

/// Where the face detector's networks are, how small a face it looks for and how sure it
/// must be.
struct DetectorOptions: ParsableArguments {
    @Option(help: "A folder holding the face detector's networks (\(FaceDetector.fileNames.joined(separator: ", ")), and optionally its \(DetectorManifest.fileName)); default: the first of the model's folder, ./Weights and the Weights folder of the checkout mien was built in that holds them, its \(FaceDetector.defaultFolder)/ subfolder if that does.")
    var detector: String?

    @Option(parsing: .unconditional, help: "The smallest face to look for, in pixels, 12...16384 (default: FER-2013's 48; 20 also finds the small faces of a crowd).")
    var minFaceSize: Int = FaceDetectorOptions().minFaceSize

    @Option(help: ArgumentHelp("The face score a candidate needs after each of the detector's three stages (P-Net, R-Net, O-Net), comma-separated, each in 0..<1; default: the detector folder's (its detector.json), else \(FaceDetectorOptions.defaultThresholds.map { "\($0)" }.joined(separator: ",")).",
                               valueName: "p,r,o"))
    var faceThresholds: String?

    mutating func validate() throws {
        try OptionCheck.range("--min-face-size", minFaceSize, 12...16_384)
        _ = try thresholds()
        if let detector {
            var isFolder: ObjCBool = false
            guard !detector.isEmpty, FileManager.default.fileExists(atPath: detector, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--detector '\(detector)' is not a folder (it holds the detector's \(FaceDetector.fileNames.joined(separator: ", ")))")
            }
        }
    }

    /// `--face-thresholds` as three scores, nil when not given.
    func thresholds() throws -> [Float]? {
        guard let faceThresholds else { return nil }
        let values = faceThresholds.split(separator: ",", omittingEmptySubsequences: false)
            .map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == 3, values.allSatisfy({ $0.map { $0.isFinite && $0 >= 0 && $0 < 1 } ?? false }) else {
            throw ValidationError("--face-thresholds must be three scores in 0..<1 separated by commas (P-Net, R-Net, O-Net), got '\(faceThresholds)'")
        }
        return values.map { $0! }
    }

    /// The folders searched, in order (only `--detector` when it is given).
    func folders(model: String) -> [String] {
        if let detector { return [detector] }
        let searched = [URL(fileURLWithPath: model).deletingLastPathComponent().path, "Weights"]
        // .build/release/mien is a link into .build/<triple>/release: the checkout is the
        // folder holding .build, however deep the binary sits in it.
        let executable = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        while folder.lastPathComponent != ".build", folder.pathComponents.count > 1 { folder = folder.deletingLastPathComponent() }
        guard folder.lastPathComponent == ".build" else { return searched }
        return searched + [folder.deletingLastPathComponent().appendingPathComponent("Weights").path]
    }

    /// The detector from the first folder that holds its networks.
    func load(model: String) throws -> FaceDetector {
        let options = FaceDetectorOptions(minFaceSize: minFaceSize, thresholds: try thresholds())
        let searched = folders(model: model)
        // Each weights folder's FER-tuned detector first (see `FaceDetector.defaultFolder`).
        let tried = detector != nil ? searched : searched.flatMap { [($0 as NSString).appendingPathComponent(FaceDetector.defaultFolder), $0] }
        for folder in tried {
            let paths = FaceDetector.fileNames.map { (folder as NSString).appendingPathComponent($0) }
            let missing = zip(FaceDetector.fileNames, paths).filter { !FileManager.default.fileExists(atPath: $1) }.map(\.0)
            if let detector, !missing.isEmpty {
                throw ValidationError("--detector '\(detector)' holds no \(missing.joined(separator: ", "))")
            }
            if missing.isEmpty { return try FaceDetector(folder: folder, options: options) }
        }
        throw ValidationError("the face detector's networks (\(FaceDetector.fileNames.joined(separator: ", "))) are in none of \(searched.joined(separator: ", ")); give their folder with --detector (Mien's Weights/ holds them)")
    }
}
