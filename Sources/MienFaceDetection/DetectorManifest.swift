import Foundation
import MienFiles

/// A detector folder's `detector.json`: the thresholds its networks were tuned at, and
/// another folder's networks for faces smaller than the ones they were trained on.
///
///     {"thresholds": [0.5, 0.5, 0.8], "small_faces": {"below": 48, "folder": ".."}}
///
/// `Weights/mtcnn-fer` holds one: its networks learned FER-2013 faces 48–200 pixels wide,
/// and the package's networks (in `..`) keep the small real faces they were trained on.
public struct DetectorManifest: Codable, Equatable, Sendable {
    public var thresholds: [Float]?
    public var smallFaces: SmallFaces?

    public struct SmallFaces: Codable, Equatable, Sendable {
        /// Faces narrower than this, in pixels, go to `folder`'s networks.
        public var below: Int
        /// Relative to the manifest's folder, or absolute.
        public var folder: String

        func path(from base: String) -> String {
            folder.hasPrefix("/") ? folder : (base as NSString).appendingPathComponent(folder)
        }
    }

    enum CodingKeys: String, CodingKey {
        case thresholds
        case smallFaces = "small_faces"
    }

    public static let fileName = "detector.json"
    /// A manifest is a few lines; anything larger is not one.
    static let maxBytes = 64 << 10

    /// `folder`'s manifest, nil when it has none; a manifest that does not parse or holds
    /// out-of-range values is an error naming the file.
    public static func read(folder: String) throws -> DetectorManifest? {
        let path = (folder as NSString).appendingPathComponent(fileName)
        // Anything at the path is read, so a directory or FIFO there is an error, not ignored.
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try parse(bytes: try RegularFile.read(path, limit: maxBytes, what: "a detector manifest"), path: path)
    }

    /// A manifest's bytes (`path` names it in errors), checked as `read` checks them.
    public static func parse(bytes: [UInt8], path: String) throws -> DetectorManifest {
        guard bytes.count <= maxBytes else {
            throw FaceDetectionError(path: path, "a detector manifest has \(bytes.count) bytes, more than the \(maxBytes)-byte limit")
        }
        let manifest: DetectorManifest
        do {
            manifest = try JSONDecoder().decode(DetectorManifest.self, from: Data(bytes))
        } catch {
            throw FaceDetectionError(path: path, "not a detector manifest: \(error)")
        }
        if let t = manifest.thresholds { try FaceDetectorOptions.check(thresholds: t, path: path + ": thresholds") }
        if let small = manifest.smallFaces {
            guard (12...16_384).contains(small.below) else {
                throw FaceDetectionError(path: path, "small_faces.below must be 12...16384 pixels, got \(small.below)")
            }
        }
        return manifest
    }
}
