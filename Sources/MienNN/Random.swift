/// Every use of randomness in Mien, each with its own first stream number, so that no two
/// uses ever draw from the same generator (the split of class 1 and a layer's initializer
/// once did). A generator is `SeededGenerator(seed:, stream, indices...)`.
public enum RandomStream: UInt64, CaseIterable, Sendable {
    /// `FaceDataset.split`: one stream per class.
    case split = 1
    /// `Batches`: each epoch's order of the faces.
    case order = 2
    /// `Batches` with augmentation: one stream per epoch and face.
    case augmentation = 3
    /// Initial weights: one stream per layer.
    case initializer = 4
    /// `Trainer`: each epoch's order of the cached features.
    case shuffle = 5
    /// Dropout masks: one stream per epoch and batch (and layer).
    case dropout = 6
    /// The augmented views cached by the fine-tuning job: one stream per view and face.
    case cachedView = 7
    /// The second training stage (fine-tuning the backbone's top): the seed of its shuffles
    /// and dropout masks, so they differ from the first stage's.
    case secondStage = 8
    /// The random image layers (RandomFlip, RandomRotation, RandomCrop, ...) in training
    /// mode: one stream per epoch and batch (and layer), apart from Dropout's.
    case imageAugmentation = 9
}

/// A small, fast, seedable random number generator: xoshiro256** (Blackman and Vigna),
/// its 256-bit state filled by SplitMix64 from a key derived from the seed and any number
/// of stream numbers. Every random choice of training (the split, each epoch's order, each
/// face's augmentation) is drawn from a generator made from `(seed, epoch, batch, ...)`, so
/// it is reproducible and independent of thread scheduling.
///
/// The algorithms are fixed here (not the standard library's, which may change between
/// Swift versions): the same seed gives the same numbers on every platform and toolchain.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// The generator for `seed`.
    public init(seed: UInt64) {
        self.init(key: seed)
    }

    /// A derived, independent stream, e.g. `SeededGenerator(seed: seed, streams: epoch, batch)`.
    /// Different stream tuples (including their order and length) give unrelated sequences;
    /// no streams is the same as `init(seed:)`.
    public init(seed: UInt64, streams: UInt64...) {
        self.init(seed: seed, streamList: streams)
    }

    /// The generator of one use of randomness: `stream`'s tag followed by `indices`
    /// (epoch, batch, face, ...).
    public init(seed: UInt64, _ stream: RandomStream, _ indices: UInt64...) {
        self.init(seed: seed, streamList: [stream.rawValue] + indices)
    }

    /// `init(seed:streams:)` with the streams as an array.
    public init(seed: UInt64, streamList: [UInt64]) {
        var key = seed
        for stream in streamList {
            key = SeededGenerator.mix(key &+ 0x9E37_79B9_7F4A_7C15 &+ SeededGenerator.mix(stream ^ 0xD1B5_4A32_D192_ED03))
        }
        self.init(key: key)
    }

    private init(key: UInt64) {
        var x = key
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            return SeededGenerator.mix(x)
        }
        s0 = splitMix()
        s1 = splitMix()
        s2 = splitMix()
        s3 = splitMix()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }   // the one state xoshiro cannot leave
    }

    /// SplitMix64's finalizer (a bijection of UInt64).
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// xoshiro256**.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = (s1 &* 5).rotatedLeft(by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3.rotatedLeft(by: 45)
        return result
    }

    /// Uniform in [0, 1), 53 random bits.
    @inline(__always)
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [low, high) (as numpy's `uniform(low, high)`: `low + (high - low) * u`).
    @inline(__always)
    public mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * nextDouble()
    }

    /// Uniform in 0..<bound, unbiased (Lemire's multiply-and-reject).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, not \(bound)")
        let n = UInt64(bound)
        var product = next().multipliedFullWidth(by: n)
        if product.low < n {
            let threshold = (0 &- n) % n
            while product.low < threshold {
                product = next().multipliedFullWidth(by: n)
            }
        }
        return Int(product.high)
    }

    /// Fisher–Yates shuffle driven by this generator (stable across toolchains).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotatedLeft(by k: UInt64) -> UInt64 {
        (self << k) | (self >> (64 - k))
    }
}
