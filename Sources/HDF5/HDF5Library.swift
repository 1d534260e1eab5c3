import CHDF5
import Foundation

/// Process-wide access to libhdf5.
///
/// The Debian libhdf5 is the serial (non-thread-safe) build, so every libhdf5
/// call in this module goes through `withLock`. The lock is recursive because
/// a value released inside a locked region may run `HDF5File.deinit`, which
/// locks again to close the file.
enum HDF5Library {
    private static let lock = NSRecursiveLock()

    /// One-time setup, run under the lock on first use: initialise the library
    /// and switch off its automatic error printing (it writes error stacks to
    /// stderr); failures are reported as `HDF5Error` instead.
    private static let initialized: Bool = {
        _ = H5open()
        _ = H5Eset_auto2(mien_H5E_DEFAULT(), nil, nil)
        return true
    }()

    static func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        _ = initialized
        return try body()
    }

    /// The innermost message on libhdf5's error stack (the most specific
    /// one, e.g. "truncated file: eof = ..."), then clears the stack.
    /// Must be called right after the failing call: every libhdf5 API call
    /// clears the stack on entry.
    static func takeErrorMessage() -> String? {
        final class Box { var message: String? }
        let box = Box()
        _ = withExtendedLifetime(box) {
            H5Ewalk2(mien_H5E_DEFAULT(), H5E_WALK_UPWARD, { _, err, data in
                guard let err, let data else { return 0 }
                let box = Unmanaged<Box>.fromOpaque(data).takeUnretainedValue()
                // Upward walk starts at the innermost frame; keep the first
                // non-empty description.
                if box.message == nil, let desc = err.pointee.desc {
                    let text = String(cString: desc)
                    if !text.isEmpty { box.message = text }
                }
                return 0
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        _ = H5Eclear2(mien_H5E_DEFAULT())
        return box.message
    }

    /// Upper bound on the bytes one read may allocate. A corrupt header can
    /// claim an enormous extent; refuse before allocating instead of
    /// exhausting memory.
    static let maxReadBytes = 1 << 34  // 16 GiB

    /// Normalises `name` relative to the group at `base` into an absolute
    /// HDF5 path. Empty components and "." are dropped; a leading "/" makes
    /// `name` absolute.
    static func join(_ base: String, _ name: String) -> String {
        var parts: [Substring] = name.hasPrefix("/") ? [] : base.split(separator: "/")
        for part in name.split(separator: "/") where part != "." {
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Product of dimensions, or nil if it overflows `Int`.
    static func product(_ dims: [Int]) -> Int? {
        var total = 1
        for d in dims {
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            total = p
        }
        return total
    }
}

/// Dimensions and element count of a dataspace. Scalar: ([], 1); null: ([], 0).
struct Extent {
    var dims: [Int]
    var count: Int
}

extension Extent {
    /// Reads a dataspace's extent; the lock must be held. Throws a plain
    /// message (the caller adds file and object).
    init(space: hid_t) throws(ExtentError) {
        switch H5Sget_simple_extent_type(space) {
        case H5S_SCALAR:
            self.init(dims: [], count: 1)
        case H5S_NULL:
            self.init(dims: [], count: 0)
        case H5S_SIMPLE:
            let rank = H5Sget_simple_extent_ndims(space)
            guard rank >= 0, rank <= 32 else { throw ExtentError(message: "invalid dataspace rank \(rank)") }
            var raw = [hsize_t](repeating: 0, count: Int(rank))
            if rank > 0 {
                guard H5Sget_simple_extent_dims(space, &raw, nil) >= 0 else {
                    throw ExtentError(message: "cannot read dataspace dimensions")
                }
            }
            var dims: [Int] = []
            for d in raw {
                guard d <= UInt64(Int.max) else { throw ExtentError(message: "dimension \(d) is too large") }
                dims.append(Int(d))
            }
            guard let count = HDF5Library.product(dims) else {
                throw ExtentError(message: "shape \(dims) has more elements than can be addressed")
            }
            self.init(dims: dims, count: count)
        default:
            throw ExtentError(message: "invalid dataspace")
        }
    }
}

struct ExtentError: Error {
    var message: String
}
