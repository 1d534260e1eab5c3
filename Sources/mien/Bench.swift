import ArgumentParser
import Foundation
import MienFaces
import MienNN
import MienTraining

/// `mien bench`: forward throughput of a model on random input, next to what `cblas_sgemm`
/// reaches on the same machine.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model's forward throughput (images/s) on random input, and the machine's sgemm GFLOP/s.")

    @Argument(help: "A .mien model, or a Keras .h5 or .keras (see the input options).")
    var model: String

    @Option(parsing: .unconditional, help: "Images per forward pass, 1...4096.")
    var batchSize = 64

    @Option(parsing: .unconditional, help: "Cores to use (default: all), 1...1024. With 1, OpenBLAS runs on one thread too.")
    var threads: Int?

    @Option(parsing: .unconditional, help: "Images per core and pass, 1...4096 (default: as mien predicts and trains, BatchRunner.imagesPerSlice).")
    var perSlice: Int?

    @Option(parsing: .unconditional, help: "How long to measure, after one warm-up batch: more than 0, at most 86400 seconds.")
    var seconds: Double = 10

    @Flag(help: "Also time each layer (on one core, after the measurement) and show where the time goes.")
    var profile = false

    @Option(help: "Output format: text or json.")
    var format: Format = .text

    @OptionGroup var options: ModelOptions

    enum Format: String, ExpressibleByArgument { case text, json }

    func validate() throws {
        try OptionCheck.range("--batch-size", batchSize, 1...4096)
        try OptionCheck.range("--threads", threads, 1...1024)
        try OptionCheck.range("--per-slice", perSlice, 1...4096)
        guard seconds > 0, seconds <= 86_400 else { throw ValidationError("--seconds must be more than 0 and at most 86400, got \(seconds)") }
    }

    struct Result: Encodable {
        var model: String
        var imagesPerSecond: Double
        var batchSize: Int
        var inputSize: Int
        var threads: Int
        var batches: Int
        var medianBatchSeconds: Double
        /// The 99th percentile (nearest rank) of the passes' times: with `--batch-size 1`,
        /// one image's latency.
        var p99BatchSeconds: Double
        var gflopsPerImage: Double
        var gflopsPerSecond: Double
        var sgemmGflopsPerSecond: Double
        /// OpenBLAS's kernel set and the build Mien's own C kernels run.
        var kernels: String
        /// This process's peak resident memory.
        var peakMemoryMb: Double
        var profile: LayerProfile?
    }

    func run() throws {
        try reportingErrors {
            let inputSize = options.inputSize   // the side for a model that takes any size (default 224)
            // As Mien runs models for prediction and training: BatchNormalization and padding folded.
            let graph = try options.load(model).graph.optimizedForInference(forRunning: true)
            guard graph.inputShapes.count == 1, let declared = graph.inputShapes.first, declared.count == 4,
                  let channels = declared[3] else {
                throw ValidationError("\(model): mien bench needs a model that takes one image; its inputs are \(graph.inputShapes.map(\.kerasDescription).joined(separator: ", "))")
            }
            let side = declared[1] ?? inputSize ?? 224
            if let inputSize, let fixed = declared[1], fixed != inputSize {
                throw ValidationError("\(model): the model takes \(fixed)×\(fixed) images only")
            }
            let cores = threads ?? BatchRunner.cores
            let shape = [batchSize, side, declared[2] ?? side, channels]
            do {
                _ = try graph.outputShape(for: [shape.map { Optional($0) }])
            } catch let error as LayerError {
                throw ValidationError("--input-size \(side) does not fit \(model): layer '\(error.layer)': \(error.message)")
            }
            // Random pixels in the range the bundled backbones expect (0...255).
            var generator = SeededGenerator(seed: 1)
            let input = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in
                Float(generator.nextDouble() * 255)
            })
            if cores == 1 { BLASKernels.threads = 1 }
            func pass() throws {
                _ = try BatchRunner.forward(graph, input, cores: cores,
                                            perSlice: perSlice ?? BatchRunner.imagesPerSlice(side: side))
            }
            try pass()   // warm-up: first-touch allocations, OpenBLAS's buffers
            var times: [Double] = []
            let clock = ContinuousClock()
            let start = clock.now
            while times.count < 3 || (clock.now - start).seconds < seconds {
                let t = clock.now
                try pass()
                times.append((clock.now - t).seconds)
            }
            let total = times.reduce(0, +)
            let flops = Double(try graph.flopsPerImage(for: [[1] + Array(shape.dropFirst())]))
            let imagesPerSecond = Double(batchSize * times.count) / total
            let result = Result(
                model: model, imagesPerSecond: imagesPerSecond, batchSize: batchSize, inputSize: side, threads: cores,
                batches: times.count, medianBatchSeconds: Bench.percentile(times, 50),
                p99BatchSeconds: Bench.percentile(times, 99),
                gflopsPerImage: flops / 1e9, gflopsPerSecond: flops * imagesPerSecond / 1e9,
                sgemmGflopsPerSecond: BLASKernels.sgemmGFLOPs(threads: min(cores, BatchRunner.cores)),
                kernels: "OpenBLAS \(BLASKernels.coreName), Mien \(VectorKernels.instructionSet)",
                peakMemoryMb: Bench.peakMemoryMB(),
                profile: profile ? try LayerProfile(graph, input: input,
                                                    perSlice: perSlice ?? BatchRunner.imagesPerSlice(side: side))
                                 : nil)
            switch format {
            case .text:
                print(String(format: "%@: batch %d of %d×%d×%d, %d thread%@",
                             model, batchSize, side, shape[2], channels, cores, cores == 1 ? "" : "s"))
                print(String(format: "forward: %.1f images/s (%d batches, median %.3f s per batch)",
                             imagesPerSecond, times.count, result.medianBatchSeconds))
                print(String(format: "%@: median %.2f ms, p99 %.2f ms (%d passes)",
                             batchSize == 1 ? "latency of one image" : "time per batch",
                             1000 * result.medianBatchSeconds, 1000 * result.p99BatchSeconds, times.count))
                print(String(format: "work: %.3f GFLOP per image, %.1f GFLOP/s achieved", result.gflopsPerImage,
                             result.gflopsPerSecond))
                print(String(format: "peak memory: %.0f MB", result.peakMemoryMb))
                print(String(format: "cblas_sgemm 1024×1024×1024 on %d thread%@: %.1f GFLOP/s; the forward pass reaches %.0f%% of it",
                             min(cores, BatchRunner.cores), min(cores, BatchRunner.cores) == 1 ? "" : "s", result.sgemmGflopsPerSecond,
                             100 * result.gflopsPerSecond / result.sgemmGflopsPerSecond))
                print("kernels: \(result.kernels)")
                if let profile = result.profile { profile.lines().forEach { print($0) } }
            case .json:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            }
        }
    }

    /// The `p`-th percentile of `values` by nearest rank (`p` 50: the median, the upper one
    /// of an even count).
    static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let rank = p == 50 ? sorted.count / 2 : Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// Peak resident memory of this process (Linux reports `ru_maxrss` in KiB).
    static func peakMemoryMB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
