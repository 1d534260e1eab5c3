import MienCKernels

/// Mien's own C kernels (the packed 1×1 product, the fused inverted-residual block, the
/// depthwise and direct convolutions) exist in builds for baseline x86-64, AVX2+FMA and
/// AVX-512; the best one the CPU can run is chosen at run time.
public enum VectorKernels {
    /// The builds, from the portable one up.
    public enum Level: Int32, CaseIterable, Sendable, Comparable {
        case portable = 0, avx2 = 1, avx512 = 2

        public var name: String { ["portable", "AVX2+FMA", "AVX-512"][Int(rawValue)] }

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
    }

    /// The build the kernels run now.
    public static var level: Level { Level(rawValue: mien_kernels_level()) ?? .portable }

    /// "AVX-512", "AVX2+FMA" or "portable": the build the kernels run on this CPU.
    public static var instructionSet: String { level.name }

    /// The builds this CPU can run, from the portable one up.
    public static var available: [Level] {
        limit(to: nil)
        return Level.allCases.filter { $0 <= level }
    }

    /// Runs builds up to `most` even where the CPU could run a better one (nil: no limit).
    /// Process-wide; tests use it to check every build.
    public static func limit(to most: Level?) { mien_kernels_limit_level(most?.rawValue ?? -1) }

    /// Runs the portable build even where a faster one is available (true), or goes back to
    /// choosing from the CPU (false).
    public static func usePortable(_ portable: Bool) { limit(to: portable ? .portable : nil) }
}
