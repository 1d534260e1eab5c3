import Dispatch
import Foundation

/// Runs a graph on a large batch using every core: the batch is cut into one slice per
/// core and each slice runs with a single-threaded OpenBLAS, which on small images keeps
/// all cores busy where OpenBLAS's own threads would mostly wait for each other.
public enum BatchRunner {
    /// The number of cores to use.
    public static var cores: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// Images per core and forward pass for a network whose input is `side`×`side`: few
    /// enough that the largest activations stay in cache instead of streaming through
    /// memory. Measured on 2 cores: 4 per core at 224×224 ran 1.6× faster than 32.
    public static func imagesPerSlice(side: Int) -> Int {
        let budget = 4 * 224 * 224
        return max(1, min(32, (budget + side * side - 1) / max(side * side, 1)))
    }

    /// The most memory the activations of one core's slice may take: a model whose images
    /// are large (a 1024×1024 input, an upsampling) runs fewer of them at a time instead of
    /// asking for gigabytes.
    public static let sliceMemory = 256 << 20

    /// `graph` on `input` (`[N, ...]`), with the batch split across cores, each core's slice
    /// at most `perSlice` images at a time (and at most what fits `sliceMemory`). Same
    /// result as `graph.forward([input])`: every image is computed alone the same way.
    public static func forward(_ graph: Graph, _ input: Tensor, cores: Int = BatchRunner.cores,
                               perSlice: Int = .max) throws -> Tensor {
        let n = input.shape[0]
        var perSlice = perSlice
        if n > 1 {
            // A layer's input and output are alive at once: two of the largest activation.
            let largest = try graph.largestActivation(for: [[1] + input.shape.dropFirst().map { Optional($0) }])
            perSlice = min(perSlice, max(1, sliceMemory / max(1, 2 * largest * MemoryLayout<Float>.size)))
        }
        let (product, overflow) = max(1, perSlice).multipliedReportingOverflow(by: max(1, cores))
        let chunk = overflow ? Int.max : product
        if n > chunk {
            var scalars: [Float] = []
            var tail: [Int] = []
            for start in stride(from: 0, to: n, by: chunk) {
                let end = min(n, start + chunk)
                let output = try forward(graph, input.batch(start..<end), cores: cores)
                tail = Array(output.shape.dropFirst())
                scalars += output.scalars
            }
            return Tensor(shape: [n] + tail, scalars: scalars)
        }
        let slices = min(cores, n)
        guard slices > 1 else {
            return try IntraImageParallelism.$cores.withValue(cores) { try graph.forward([input]) }
        }
        let bounds = (0...slices).map { $0 * n / slices }
        let results = ConcurrentResults<Tensor>(count: slices)
        BLASKernels.singleThreaded {
            DispatchQueue.concurrentPerform(iterations: slices) { s in
                let slice = input.batch(bounds[s]..<bounds[s + 1])
                results.set(s, Result { try graph.forward([slice]) })
            }
        }
        let outputs = try (0..<slices).map { try results.get($0).get() }
        let tail = Array(outputs[0].shape.dropFirst())
        return Tensor(shape: [n] + tail, scalars: outputs.flatMap(\.scalars))
    }
}

/// Results of work run on several threads (`DispatchQueue.concurrentPerform`), one slot per
/// iteration; each slot holds a failure until its iteration sets it.
public final class ConcurrentResults<Value: Sendable>: @unchecked Sendable {
    private var values: [Result<Value, Error>]
    private let lock = NSLock()

    public init(count: Int) { values = Array(repeating: .failure(CancellationError()), count: count) }

    public func set(_ i: Int, _ value: Result<Value, Error>) {
        lock.lock()
        values[i] = value
        lock.unlock()
    }

    public func get(_ i: Int) -> Result<Value, Error> {
        lock.lock()
        defer { lock.unlock() }
        return values[i]
    }
}

/// Whether a layer may split one image's work across cores. `BatchRunner` allows it when a
/// pass has a single image (a batch of one, a live frame), where cutting the batch leaves
/// every core but one idle; inside a slice of a larger batch each core already has its own
/// images, and the value stays 1. A task-local, so concurrent callers do not see each other's.
public enum IntraImageParallelism {
    @TaskLocal public static var cores: Int = 1

    /// How many parts to cut `rows` output rows into: one unless the pass is a single image,
    /// more than one core is allowed, and the layer has enough work (multiply-adds) for the
    /// cost of waking another thread (some microseconds) to pay.
    static func parts(rows: Int, images: Int, work: Int) -> Int {
        guard images == 1, cores > 1, work >= 1 << 18 else { return 1 }
        return max(1, min(cores, rows / 2))
    }

    /// Runs `body(part)` for each part, on as many threads. The caller promises that the
    /// parts touch disjoint memory (each writes its own rows), which the compiler cannot check
    /// for the raw pointers a kernel takes.
    static func run(_ parts: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: parts) { shared.value($0) }
        }
    }
}

/// A value handed to other threads whose safety the compiler cannot see (see the use).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
