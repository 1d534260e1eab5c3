/// A failure while opening, reading or writing an HDF5 file.
///
/// Always names the file on disk; names the object inside the file when the
/// failure concerns one, so a message alone is enough to find the problem.
public struct HDF5Error: Error, CustomStringConvertible, Equatable {
    /// Path of the file on disk, as given to `HDF5File(path:)` or
    /// `HDF5Writer(creating:)` (the final name, not the temporary file).
    public var file: String
    /// HDF5 path inside the file, e.g. "/model_weights/dense/dense/kernel:0".
    public var object: String?
    /// What went wrong, including the innermost libhdf5 message when there is one.
    public var message: String

    public init(file: String, object: String? = nil, message: String) {
        self.file = file
        self.object = object
        self.message = message
    }

    /// "model.h5: /model_weights/x: no such dataset"
    public var description: String {
        if let object { return "\(file): \(object): \(message)" }
        return "\(file): \(message)"
    }
}
