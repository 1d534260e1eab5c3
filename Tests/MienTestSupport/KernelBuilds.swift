import MienNN

/// Runs `body` once with each build of Mien's C kernels that this CPU can run (portable,
/// AVX2+FMA, AVX-512), passing the build's name, then lifts the limit again.
public func everyKernelBuild(_ body: (String) throws -> Void) rethrows {
    defer { VectorKernels.limit(to: nil) }
    for level in VectorKernels.available {
        VectorKernels.limit(to: level)
        try body(level.name)
    }
}
