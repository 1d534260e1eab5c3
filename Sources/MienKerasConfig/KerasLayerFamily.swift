import MienNN

/// A family of Keras layer classes kept together in one file: how each class is built from
/// its config and written back. New layers join through a family, so adding one touches its
/// `MienNN` file, its family's file and the family list below.
protocol KerasLayerFamily: Sendable {
    /// Keras class names (with their aliases) and their builders.
    static var builders: [String: KerasLayers.Builder] { get }
    /// The Keras class name and config of `layer`, or nil when it is not of this family.
    static func config(of layer: any Layer, kerasMajor: Int) throws -> KerasLayers.Written?
}

extension KerasLayers {
    /// The families beside the classic layers of `KerasLayers.builders`.
    static let families: [any KerasLayerFamily.Type] = [KerasOperations.self]
}
