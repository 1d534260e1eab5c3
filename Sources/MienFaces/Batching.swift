import MienNN

extension FaceDataset {
    /// The face indices of one epoch: a seeded shuffle for `(seed, epoch)`, or `0..<count`
    /// in order when `shuffle` is false.
    public func epochOrder(seed: UInt64, epoch: Int, shuffle: Bool = true) -> [Int] {
        var order = Array(faces.indices)
        if shuffle {
            var generator = SeededGenerator(seed: seed, .order, UInt64(epoch))
            generator.shuffle(&order)
        }
        return order
    }

    /// One epoch's face indices cut into batches of `size` (the last one smaller unless
    /// `dropLast`).
    public func batches(size: Int, seed: UInt64, epoch: Int, shuffle: Bool = true,
                        dropLast: Bool = false) -> [[Int]] {
        precondition(size > 0, "batch size must be positive, not \(size)")
        let order = epochOrder(seed: seed, epoch: epoch, shuffle: shuffle)
        return stride(from: 0, to: order.count, by: size).compactMap { start in
            let end = min(start + size, order.count)
            if dropLast && end - start < size { return nil }
            return Array(order[start..<end])
        }
    }

    /// The faces at `indices` as an NHWC batch `[n, 48, 48, 1]` of float pixels 0...255
    /// (the raw face the model's `InputAdapter` takes), and their labels. Each face gets its
    /// own random view from the stream `(seed, epoch, batch, position)`, so a batch is the
    /// same whatever the thread count or the order in which batches are built.
    public func batch(_ indices: [Int], augmentation: Augmentation = .none, seed: UInt64 = 0,
                      epoch: Int = 0, batch: Int = 0) -> (images: Tensor, labels: [Int]) {
        let side = FaceDataset.side
        let area = side * side
        var scalars = [Float](repeating: 0, count: indices.count * area)
        var labels: [Int] = []
        labels.reserveCapacity(indices.count)
        scalars.withUnsafeMutableBufferPointer { out in
            for (position, index) in indices.enumerated() {
                let face = faces[index]
                precondition(face.pixels.count == area, "face \(face.source) is not \(side)×\(side)")
                labels.append(face.label)
                let view: [Float]
                if augmentation.isIdentity {
                    view = face.pixels.map(Float.init)
                } else {
                    var generator = SeededGenerator(seed: seed, .augmentation, UInt64(epoch),
                                                    UInt64(batch), UInt64(position))
                    view = augmentation.apply(face.pixels, generator: &generator)
                }
                for k in 0..<area { out[position * area + k] = view[k] }
            }
        }
        return (Tensor(shape: [indices.count, side, side, 1], scalars: scalars), labels)
    }
}
