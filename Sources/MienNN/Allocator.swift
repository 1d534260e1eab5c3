#if canImport(Glibc)
import MienCMalloc
#endif

/// How the process's allocator treats the large, short-lived activation buffers of a
/// forward pass.
public enum Allocator {
    /// glibc gives every buffer above 128 KiB its own `mmap` and unmaps it when freed, so
    /// each layer's output is fresh memory: a page fault and a zero-fill per 4 KiB, about a
    /// fifth of a forward pass at 224×224 here (`perf`). Raising the thresholds keeps freed
    /// buffers in the heap for the next layer. Process-wide; call once at start.
    public static func keepFreedBuffersForReuse() {
        #if canImport(Glibc)
        _ = mallopt(M_MMAP_THRESHOLD, 64 << 20)   // buffers up to 64 MiB come from the heap
        _ = mallopt(M_TRIM_THRESHOLD, 512 << 20)  // and up to 512 MiB of free heap is kept
        #endif
    }
}
