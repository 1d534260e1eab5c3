import MienNN

/// A family of Keras layer classes kept together in one file: how each class is built from
/// its config and written back. New layers join through a family, so adding one touches its
/// `MienNN` file, its family's file and the family list below.
protocol KerasLayerFamily: Sendable {
    /// Keras class names (with their aliases) and their builders.
    static var builders: [String: KerasLayers.Builder] { get }
    /// The Keras class name and config of `layer`, or nil when it is not of this family.
    static func config(of layer: any Layer, kerasMajor: Int) throws -> KerasLayers.Written?
    /// The Keras version `layer` must be written for when its meaning differs between
    /// tf.keras 2 and Keras 3 (RandomCrop at inference), nil when either reads it alike.
    static func kerasMajor(of layer: any Layer) -> Int?
}

extension KerasLayerFamily {
    static func kerasMajor(of layer: any Layer) -> Int? { nil }
}

extension KerasLayers {
    /// The families beside the classic layers of `KerasLayers.builders`.
    static let families: [any KerasLayerFamily.Type] = [KerasOperations.self, KerasNormalizationFamily.self, KerasAugmentationFamily.self]

    /// The Keras version a layer of a family must be written for, if any (see `KerasLayerFamily`).
    static func requiredKerasMajor(of layer: any Layer) -> Int? {
        families.lazy.compactMap { $0.kerasMajor(of: layer) }.first
    }
}
