import Foundation
import MienNN

/// Training inputs read a batch at a time: a tensor in memory, or the frozen prefix's
/// outputs stored as float16 (`HalfSamples`), so a stage-2 run holds one batch in float32.
public protocol Samples: Sendable {
    var count: Int { get }
    /// One sample's shape (no batch axis).
    var sampleShape: [Int] { get }
    /// Samples `rows`, in that order, as one float32 tensor `[rows.count] + sampleShape`.
    func batch(_ rows: [Int]) -> Tensor
}

/// A tensor whose first axis is the samples.
public struct TensorSamples: Samples {
    public let tensor: Tensor
    public init(_ tensor: Tensor) { self.tensor = tensor }
    public var count: Int { tensor.shape.first ?? 0 }
    public var sampleShape: [Int] { Array(tensor.shape.dropFirst()) }
    public func batch(_ rows: [Int]) -> Tensor {
        Trainer.gather(tensor, rows: rows, shape: [rows.count] + sampleShape)
    }
}

/// Samples stored as IEEE float16: half the memory of float32, with a relative rounding of
/// 2⁻¹¹, well below what changes a trained network (the activations of a frozen backbone
/// cached once for many epochs). Past `mappedAbove` bytes the values live in a file beside
/// the model, mapped into memory, so the page cache rather than the heap holds them.
public final class HalfSamples: Samples, @unchecked Sendable {
    public let sampleShape: [Int]
    public let count: Int
    let sampleSize: Int
    private let storage: UnsafeMutablePointer<Float16>
    private let mappedBytes: Int   // 0: heap
    /// Where the values are filled in order; reads come after the filling is done.
    private var filled = 0

    /// Samples larger than this go to a mapped file.
    public static let mappedAbove = 3 << 30

    /// Room for `count` samples of `sampleShape`; `spill` is the file used when they need
    /// more than `mappedAbove` bytes (removed at once: the mapping keeps it alive).
    public init(count: Int, sampleShape: [Int], spill: String, mappedAbove: Int = HalfSamples.mappedAbove) throws {
        self.count = count
        self.sampleShape = sampleShape
        sampleSize = Tensor.count(of: sampleShape)
        let (total, overflow) = count.multipliedReportingOverflow(by: sampleSize * MemoryLayout<Float16>.size)
        guard !overflow, sampleSize > 0 else {
            throw TrainingSetupError("the cache of \(count) samples of \(sampleShape) is too large")
        }
        if total > mappedAbove {
            let fd = open(spill, O_RDWR | O_CREAT | O_EXCL, 0o600)
            guard fd >= 0 else { throw TrainingSetupError("\(spill): cannot create the activation cache (\(String(cString: strerror(errno))))") }
            defer { close(fd); unlink(spill) }
            guard ftruncate(fd, off_t(total)) == 0,
                  let map = mmap(nil, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED else {
                throw TrainingSetupError("\(spill): cannot map \(total) bytes for the activation cache (\(String(cString: strerror(errno))))")
            }
            storage = map.bindMemory(to: Float16.self, capacity: count * sampleSize)
            mappedBytes = total
        } else {
            storage = .allocate(capacity: max(count * sampleSize, 1))
            mappedBytes = 0
        }
    }

    deinit {
        if mappedBytes > 0 { munmap(storage, mappedBytes) } else { storage.deallocate() }
    }

    /// Bytes the values take.
    public var byteCount: Int { count * sampleSize * MemoryLayout<Float16>.size }
    public var isMapped: Bool { mappedBytes > 0 }

    /// Appends the samples of `batch` (`[k] + sampleShape`).
    public func append(_ batch: Tensor) throws {
        let k = batch.shape.first ?? 0
        guard Array(batch.shape.dropFirst()) == sampleShape, filled + k <= count else {
            throw TrainingSetupError("activation cache: a batch of \(batch.shape) does not fit \(count - filled) more samples of \(sampleShape)")
        }
        batch.scalars.withUnsafeBufferPointer { src in
            let dst = storage + filled * sampleSize
            for i in 0..<src.count { dst[i] = Float16(src[i]) }
        }
        filled += k
    }

    public func batch(_ rows: [Int]) -> Tensor {
        var out = Tensor(zeros: [rows.count] + sampleShape)
        out.scalars.withUnsafeMutableBufferPointer { dst in
            for (k, r) in rows.enumerated() {
                let src = storage + r * sampleSize
                let base = k * sampleSize
                for i in 0..<sampleSize { dst[base + i] = Float(src[i]) }
            }
        }
        return out
    }
}
