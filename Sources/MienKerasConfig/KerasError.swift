import MienNN

/// An import failure. Its description always names the file, and the layer or weight
/// when there is one, so a user can find the problem in their checkpoint.
public struct KerasError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Not a Keras model file (no `model_config`, not HDF5, unreadable).
        case notAModel
        /// A Keras version Mien does not read (Keras 1).
        case unsupportedVersion
        /// A layer class Mien does not implement (Lambda, custom classes).
        case unsupportedLayer
        /// A supported layer with an option Mien does not implement (channels_first, groups).
        case unsupportedOption
        /// A config that is malformed or inconsistent.
        case invalidConfig
        /// A weight the model needs that the file lacks, or one the model has no place for.
        case missingWeight
        /// A weight whose shape does not match the layer built from the config.
        case weightShape
        /// A failure reading the HDF5 file.
        case hdf5
        /// A `.keras` zip that cannot be read as Keras writes it (truncated, corrupt, an entry
        /// compressed or larger than its limit), or that cannot be written.
        case archive
    }

    public var kind: Kind
    public var file: String
    public var layer: String?
    public var message: String

    public init(_ kind: Kind, file: String, layer: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.layer = layer
        self.message = message
    }

    public var description: String {
        "\(file): " + (layer.map { "layer '\($0)': " } ?? "") + message
    }

    /// Runs `body`, turning any error into a `KerasError` about `file`.
    public static func wrap<T>(file: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as KerasError {
            throw error
        } catch let error as LayerError {
            let kind: Kind = error.message.contains("has shape") ? .weightShape : .invalidConfig
            throw KerasError(kind, file: file, layer: error.layer, error.message)
        } catch {
            throw KerasError(.invalidConfig, file: file, "\(error)")
        }
    }
}
