/// One 48×48 gray face (row-major bytes) and its label index.
public struct Face: Sendable, Equatable {
    /// `FaceDataset.side × FaceDataset.side` bytes, row-major.
    public var pixels: [UInt8]
    /// The index of the face's class in its data set's `classes`.
    public var label: Int
    /// Where the face came from: the image file's path, or `"PATH:LINE"` for a row of a
    /// `fer2013.csv` file (LINE counts the header as line 1).
    public var source: String

    public init(pixels: [UInt8], label: Int, source: String) {
        self.pixels = pixels
        self.label = label
        self.source = source
    }
}

/// A data set that cannot be loaded: a missing folder or file, a missing or empty class
/// folder, an unknown class, a malformed CSV row, an unreadable image (with `strict`), ...
public struct FaceDataError: Error, CustomStringConvertible, Equatable {
    /// The folder, file or image the problem is in, as given.
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// "PATH: message", e.g. "data/train: no class folder 'sadd'; found: angry, happy".
    public var description: String { "\(path): \(message)" }
}
