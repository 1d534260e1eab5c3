import MienCKernels

/// Mien's own C kernels (depthwise convolution) exist in two builds, baseline x86-64 and
/// AVX2+FMA; the faster one that the CPU can run is chosen at run time.
public enum VectorKernels {
    /// "AVX2+FMA" or "portable": the build the kernels run on this CPU.
    public static var instructionSet: String { mien_kernels_use_avx2() != 0 ? "AVX2+FMA" : "portable" }

    /// Runs the portable build even where AVX2+FMA is available (true), or goes back to
    /// choosing from the CPU (false). Process-wide; tests use it to check both builds.
    public static func usePortable(_ portable: Bool) { mien_kernels_use_portable(portable ? 1 : 0) }
}
