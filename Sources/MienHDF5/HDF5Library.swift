import MienCHDF5
import Foundation
import MienFiles

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

    // Only touched under the lock.
    nonisolated(unsafe) private static var imageCount = 0

    /// A new name for a file held in memory (lock held). libhdf5's core driver refuses to
    /// open an image under a name that exists on disk, and takes two open files of the same
    /// name for one: a path below /dev/null never exists, and the counter makes it unique.
    static func imageName() -> String {
        imageCount += 1
        return "/dev/null/mien-image-\(imageCount)"
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

    /// What the absolute path `abs` names in the open file (or any object of
    /// it) `id`, or nil if nothing (including dangling links and paths through
    /// a dataset). Never leaves an error behind. The lock must be held.
    static func objectKind(in id: hid_t, _ abs: String) -> HDF5ObjectKind? {
        if abs == "/" { return .group }
        guard !abs.utf8.contains(0) else { return nil }
        // H5Oopen on a missing path is an error; test each link level first.
        var prefix = ""
        for part in abs.split(separator: "/") {
            prefix += "/" + part
            guard H5Lexists(id, prefix, mien_H5P_DEFAULT()) > 0 else {
                _ = H5Eclear2(mien_H5E_DEFAULT())
                return nil
            }
        }
        guard H5Oexists_by_name(id, abs, mien_H5P_DEFAULT()) > 0 else {
            _ = H5Eclear2(mien_H5E_DEFAULT())
            return nil
        }
        let obj = H5Oopen(id, abs, mien_H5P_DEFAULT())
        guard obj >= 0 else {
            _ = H5Eclear2(mien_H5E_DEFAULT())
            return nil
        }
        defer { _ = H5Oclose(obj) }
        switch H5Iget_type(obj) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        case H5I_DATATYPE: return .datatype
        default: return .other
        }
    }

}

/// What a path in a file names.
enum HDF5ObjectKind { case group, dataset, datatype, other }

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
            var maxima = [hsize_t](repeating: 0, count: Int(rank))
            if rank > 0 {
                guard H5Sget_simple_extent_dims(space, &raw, &maxima) >= 0 else {
                    throw ExtentError(message: "cannot read dataspace dimensions")
                }
            }
            // A dimension beyond its own maximum is a damaged dataspace message (libhdf5 1.14
            // refuses it; 1.10 does not check).
            for (d, limit) in zip(raw, maxima) where limit != mien_H5S_UNLIMITED() && d > limit {
                throw ExtentError(message: "damaged dataspace: dimension \(d) exceeds its maximum \(limit)")
            }
            var dims: [Int] = []
            for d in raw {
                guard d <= UInt64(Int.max) else { throw ExtentError(message: "dimension \(d) is too large") }
                dims.append(Int(d))
            }
            guard let count = CheckedSize.product(dims) else {
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
