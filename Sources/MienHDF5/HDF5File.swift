import MienCHDF5
import Foundation
import MienFiles

/// A read-only HDF5 file. The file handle is closed when the last reference
/// (including those held by groups and datasets) goes away.
public final class HDF5File: @unchecked Sendable {
    // @unchecked: the only state is immutable after init, and every use of
    // `id` happens inside HDF5Library.withLock.

    /// Path of the file on disk, as given to `init`.
    public let path: String
    /// Size of the file on disk in bytes, used to reject reads that a corrupt
    /// header inflates beyond what the file can hold.
    public let fileSize: Int
    let id: hid_t

    /// The 8-byte HDF5 format signature.
    private static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

    /// Opens `path` read-only. Throws a clear `HDF5Error` for a missing,
    /// unreadable, empty, non-HDF5, truncated or corrupt file.
    public init(path: String) throws {
        self.path = path
        func fail(_ message: String) -> HDF5Error { HDF5Error(file: path, message: message) }

        // Check the obvious failures ourselves: libhdf5's messages for them
        // are long stacks that bury the cause, and it would block on a FIFO.
        let size: Int
        do {
            size = try RegularFile.size(path)
        } catch let error as FileError {
            throw fail(error.message)
        }
        guard size > 0 else { throw fail("file is empty (0 bytes), not an HDF5 file") }
        guard Self.hasSignature(path: path, size: size) else {
            throw fail("not an HDF5 file (no HDF5 signature found)")
        }
        self.fileSize = size

        // Open and collect libhdf5's reason under one lock, so no other call
        // can clear the error stack in between.
        let opened: Result<hid_t, HDF5Error> = HDF5Library.withLock {
            let id = H5Fopen(path, mien_H5F_ACC_RDONLY(), mien_H5P_DEFAULT())
            if id >= 0 { return .success(id) }
            var message = "cannot open HDF5 file (truncated or corrupt?)"
            if let inner = HDF5Library.takeErrorMessage() { message += ": \(inner)" }
            return .failure(fail(message))
        }
        let id = try opened.get()
        self.id = id
    }

    /// Opens the HDF5 file held in `image` (e.g. the `model.weights.h5` of a `.keras` zip)
    /// read-only, through libhdf5's core driver: nothing is read from or written to disk.
    /// `name` is what errors call the file (`path`). Throws the same errors as `init(path:)`.
    ///
    /// libhdf5 copies the image, so the caller may drop `image` once this returns.
    public init(image: [UInt8], name: String) throws {
        self.path = name
        func fail(_ message: String) -> HDF5Error { HDF5Error(file: name, message: message) }
        guard !image.isEmpty else { throw fail("file is empty (0 bytes), not an HDF5 file") }
        let found = image.withUnsafeBytes { bytes in
            Self.hasSignature(size: bytes.count) { offset, buffer in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + buffer.count]))
                return buffer.count
            }
        }
        guard found else { throw fail("not an HDF5 file (no HDF5 signature found)") }
        self.fileSize = image.count

        let opened: Result<hid_t, HDF5Error> = HDF5Library.withLock {
            let fapl = H5Pcreate(mien_H5P_FILE_ACCESS())
            guard fapl >= 0 else { return .failure(fail("cannot create a file access property list")) }
            defer { _ = H5Pclose(fapl) }
            // Core driver without a backing store: the file lives in memory only. The
            // increment is how far it would grow on a write; it is opened read-only.
            let set = image.withUnsafeBytes { bytes in
                H5Pset_fapl_core(fapl, 1 << 20, false) >= 0
                    && H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) >= 0
            }
            guard set else {
                var message = "cannot hand the file image to libhdf5"
                if let inner = HDF5Library.takeErrorMessage() { message += ": \(inner)" }
                return .failure(fail(message))
            }
            let id = H5Fopen(HDF5Library.imageName(), mien_H5F_ACC_RDONLY(), fapl)
            if id >= 0 { return .success(id) }
            var message = "cannot open HDF5 file (truncated or corrupt?)"
            if let inner = HDF5Library.takeErrorMessage() { message += ": \(inner)" }
            return .failure(fail(message))
        }
        self.id = try opened.get()
    }

    deinit {
        HDF5Library.withLock { _ = H5Fclose(id) }
    }

    /// Whether the file at `path` carries the HDF5 signature (false if it cannot be read):
    /// how callers tell an `.h5` from other model files without opening it.
    public static func isHDF5(_ path: String) -> Bool {
        guard let size = try? RegularFile.size(path) else { return false }
        return hasSignature(path: path, size: size)
    }

    private static func hasSignature(path: String, size: Int) -> Bool {
        guard let (fd, _) = try? RegularFile.open(path) else { return false }
        defer { close(fd) }
        return hasSignature(size: size) { offset, buffer in
            pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
        }
    }

    /// The HDF5 signature sits at offset 0 or, after a user block, at
    /// 512, 1024, 2048, ... (powers of two). `read` fills its buffer from an offset and
    /// returns the byte count (negative on error).
    private static func hasSignature(size: Int, read: (Int, UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        var offset = 0
        var bytes = [UInt8](repeating: 0, count: signature.count)
        while offset + signature.count <= size {
            let n = bytes.withUnsafeMutableBytes { read(offset, $0) }
            if n == signature.count, bytes == signature { return true }
            if n < 0 { return false }
            offset = offset == 0 ? 512 : offset * 2
        }
        return false
    }

    /// The root group "/".
    public var root: HDF5Group { HDF5Group(file: self, path: "/") }

    /// Shorthand for `root.group(path)`.
    public func group(_ path: String) throws -> HDF5Group { try root.group(path) }

    /// Shorthand for `root.dataset(path)`.
    public func dataset(_ path: String) throws -> HDF5Dataset { try root.dataset(path) }

    // MARK: - Internal helpers (lock must be held)

    func error(_ object: String?, _ message: String) -> HDF5Error {
        HDF5Error(file: path, object: object, message: message)
    }

    /// An error carrying libhdf5's innermost message for the call that just failed.
    func libraryError(_ object: String?, _ message: String) -> HDF5Error {
        if let inner = HDF5Library.takeErrorMessage() {
            return error(object, "\(message): \(inner)")
        }
        return error(object, message)
    }

    /// The extent of dataspace `space`, errors naming `object`.
    func extent(_ space: hid_t, _ object: String, prefix: String = "") throws -> Extent {
        do {
            return try Extent(space: space)
        } catch {
            throw self.error(object, prefix + error.message)
        }
    }

    typealias ObjectKind = HDF5ObjectKind

    /// What the absolute path `abs` names, or nil if nothing (including dangling
    /// links and paths through a dataset). Never leaves an error behind.
    func objectKind(_ abs: String) -> ObjectKind? {
        HDF5Library.objectKind(in: id, abs)
    }
}
