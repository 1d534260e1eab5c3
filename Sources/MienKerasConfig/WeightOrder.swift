import MienNN

/// Keras's `layer.weights` order, which decides how weights are listed in a file.
///
/// A nested model lists all trainable weights of its sub-layers before all non-trainable
/// ones (BatchNormalization's gamma/beta early, its moving statistics at the end), unless
/// it was frozen, and the two Keras versions recurse differently through frozen models.
public enum WeightOrder {
    /// The weights of `layer` in Keras's order, with key paths relative to the layer.
    public static func ordered(_ layer: any Layer, kerasMajor: Int) -> [Parameter] {
        if kerasMajor >= 3 {
            // Keras 3: flatten in layer order, each variable trainable only if it and every
            // enclosing layer are; then trainable ones first unless the layer is frozen.
            let all = flattened(layer, frozen: false)
            return layer.trainable ? all.filter(\.trainable) + all.filter { !$0.trainable } : all
        }
        return trainable2(layer) + nonTrainable2(layer)
    }

    /// Keras's `trainable_weights` of a layer (its trainable parameter count).
    public static func trainableCount(_ layer: any Layer, kerasMajor: Int) -> Int {
        let list = kerasMajor >= 3 ? flattened(layer, frozen: false).filter(\.trainable)
                                   : trainable2(layer)
        return list.reduce(0) { $0 + $1.value.count }
    }

    private static func children(_ layer: any Layer) -> [any Layer]? {
        (layer as? Graph)?.layers
    }

    private static func prefixed(_ child: any Layer, _ list: [Parameter]) -> [Parameter] {
        list.map { Parameter("\(child.name)/\($0.name)", $0.value, trainable: $0.trainable) }
    }

    private static func flattened(_ layer: any Layer, frozen: Bool) -> [Parameter] {
        let frozen = frozen || !layer.trainable
        guard let children = children(layer) else {
            return layer.parameters.map { Parameter($0.name, $0.value, trainable: $0.trainable && !frozen) }
        }
        return children.flatMap { prefixed($0, flattened($0, frozen: frozen)) }
    }

    // tf.keras 2's recursion (`Layer.trainable_weights` / `non_trainable_weights`).
    private static func trainable2(_ layer: any Layer) -> [Parameter] {
        guard layer.trainable else { return [] }
        guard let children = children(layer) else { return layer.parameters.filter(\.trainable) }
        return children.flatMap { prefixed($0, trainable2($0)) }
    }

    private static func nonTrainable2(_ layer: any Layer) -> [Parameter] {
        guard let children = children(layer) else {
            let own = layer.trainable ? layer.parameters.filter { !$0.trainable } : layer.parameters
            return own.map { Parameter($0.name, $0.value, trainable: false) }
        }
        if layer.trainable {
            return children.flatMap { prefixed($0, nonTrainable2($0)) }
        }
        return children.flatMap { child in
            prefixed(child, (trainable2(child) + nonTrainable2(child)).map {
                Parameter($0.name, $0.value, trainable: false)
            })
        }
    }
}
