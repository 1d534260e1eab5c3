import MienCBLAS
import Foundation

/// OpenBLAS picks its matrix kernels from the CPU's model number. On virtual machines that
/// report a generic "Intel Xeon Processor", it falls back to its oldest kernels (Prescott,
/// SSE3), even when the CPU has AVX2 or AVX-512. The choice is made when the library
/// loads, so the only way to correct it is the `OPENBLAS_CORETYPE` variable before start.
public enum BLASKernels {
    /// The kernel set OpenBLAS chose, e.g. "Haswell" or "Prescott".
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// The kernel set this CPU can run, by its instruction-set flags, if better than OpenBLAS's choice.
    public static func betterCoreType(cpuFlags: Set<Substring>) -> String? {
        guard coreName.lowercased() == "prescott" else { return nil }
        if cpuFlags.contains("avx512f") && cpuFlags.contains("avx512bw") && cpuFlags.contains("avx512vl") { return "SkylakeX" }
        if cpuFlags.contains("avx2") && cpuFlags.contains("fma") { return "Haswell" }
        return nil
    }

    /// Restarts the process with `OPENBLAS_CORETYPE` set when OpenBLAS misjudged the CPU
    /// (never when the variable is already set, so at most once). Returns if no restart is needed.
    public static func restartWithBetterKernelsIfNeeded() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let core = betterCoreType(cpuFlags: Set(flagsLine.split(separator: " "))) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        var arguments = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv("/proc/self/exe", &arguments)
        // execv returns only on failure: carry on with the slower kernels.
    }
}

extension BLASKernels {
    /// OpenBLAS's own thread count, for work that runs one product at a time. A process-wide
    /// setting: code that may run concurrently uses `singleThreaded` instead of setting it.
    /// At most one thread per core: OpenBLAS's threads spin while they wait, and 64 of them
    /// on 2 busy cores made one product take longer than a minute.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(clamping: min(max(1, newValue), BatchRunner.cores))) }
    }

    private static let sectionLock = NSLock()
    nonisolated(unsafe) private static var sectionDepth = 0
    nonisolated(unsafe) private static var threadsBeforeSections = 1

    /// Runs `body` with OpenBLAS on one thread (each core runs its own slice). Calls may
    /// overlap from any number of threads: the first to enter saves the thread count and the
    /// last to leave restores it, so concurrent callers never leave OpenBLAS on one thread.
    public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
        sectionLock.lock()
        if sectionDepth == 0 {
            threadsBeforeSections = threads
            threads = 1
        }
        sectionDepth += 1
        sectionLock.unlock()
        defer {
            sectionLock.lock()
            sectionDepth -= 1
            if sectionDepth == 0 { threads = threadsBeforeSections }
            sectionLock.unlock()
        }
        return try body()
    }

    /// The GFLOP/s `cblas_sgemm` reaches on `size`×`size` square matrices with `threads`
    /// OpenBLAS threads: the machine's practical peak for this library, to compare a forward
    /// pass with. The best of a few timed runs after a warm-up.
    public static func sgemmGFLOPs(size: Int = 1024, threads: Int, repetitions: Int = 5) -> Double {
        let previous = self.threads
        self.threads = threads
        defer { self.threads = previous }
        let a = [Float](repeating: 0.5, count: size * size)
        let b = [Float](repeating: 0.25, count: size * size)
        var c = [Float](repeating: 0, count: size * size)
        var best = Double.infinity
        let clock = ContinuousClock()
        for run in 0...repetitions {
            let start = clock.now
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        gemm(a.baseAddress!, b.baseAddress!, c.baseAddress!, m: size, n: size, k: size)
                    }
                }
            }
            let seconds = (clock.now - start).seconds
            if run > 0 { best = min(best, seconds) }   // run 0 warms up caches and threads
        }
        return 2 * Double(size * size * size) / best / 1e9
    }
}
