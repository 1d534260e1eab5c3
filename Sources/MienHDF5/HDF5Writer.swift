import MienCHDF5
import Foundation
import MienFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Creates an HDF5 file, e.g. a Keras legacy `.h5` export, or builds one in memory
/// (`init(inMemory:)`, the weights of a `.keras` export).
///
/// Everything is written to a temporary file beside `path`
/// (".NAME.tmp-<random>") and renamed over `path` by `commit()`, so an
/// interrupted export never leaves a half-written file under the real name:
/// if the writer is dropped without `commit()` (groups keep it alive, so drop
/// them too), if `commit()` fails, or if a write fails inside libhdf5, the
/// temporary file is removed.
///
/// Errors that are detected before the file is touched (an invalid or existing
/// name, a value count that doesn't match the shape, ...) leave the writer
/// usable. A failure inside libhdf5 while writing may have left the file
/// half-modified, so it abandons the export: the temporary file is removed at
/// once and every later call, including `commit()`, throws.
///
/// The file uses libhdf5's default (earliest) format, like h5py's default:
/// variable-length strings live in the global heap, so a large string
/// attribute (Keras's `model_config` JSON) fits, but one attribute's header
/// message is limited to 64 KiB, which holds about 4090 strings in a string
/// array (16 bytes each). `HDF5WriteGroup.maxStringArrayCount` is the safe
/// limit; split larger lists as Keras does (`name0`, `name1`, ...;
/// `stringArrayAttribute` joins them when reading).
public final class HDF5Writer: @unchecked Sendable {
    // @unchecked: `state` is the only mutable state and is only touched inside
    // HDF5Library.withLock.

    /// The final path, as given to `init`.
    public let path: String
    /// The temporary file everything is written to until `commit()`; nil for a file built
    /// in memory.
    let temporaryPath: String?
    /// Its `TemporaryFiles` slot: removed if the process is stopped by a signal.
    private var temporarySlot: Int?

    enum State {
        case open(hid_t)
        case committed
        /// Abandoned after a libhdf5 failure; the temporary file is gone.
        case failed(HDF5Error)
    }
    private var state: State

    /// Creates the temporary file beside `path`. Throws an `HDF5Error` naming
    /// `path` if its folder is missing or not writable, or `path` is a folder.
    /// An existing file at `path` is left alone until `commit()` replaces it.
    public init(creating path: String) throws {
        self.path = path
        func fail(_ message: String) -> HDF5Error { HDF5Error(file: path, message: message) }

        // Check the common mistakes ourselves: libhdf5 would report them
        // against the temporary name, in a long errno message.
        guard !path.isEmpty, !path.utf8.contains(0) else { throw fail("invalid file name") }
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard !path.hasSuffix("/"), !(fm.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue) else {
            throw fail("cannot create: is a directory")
        }
        guard fm.fileExists(atPath: folder, isDirectory: &isDirectory) else {
            throw fail("cannot create: folder '\(folder)' does not exist")
        }
        guard isDirectory.boolValue else { throw fail("cannot create: '\(folder)' is not a folder") }
        guard fm.isWritableFile(atPath: folder) else {
            throw fail("cannot create: folder '\(folder)' is not writable (permission denied)")
        }

        // Same folder as `path`, so the final rename stays on one file system
        // and is atomic. Hidden, so a half export doesn't look like a model.
        var temporaryPath: String
        repeat {
            let random = String(UInt64.random(in: .min ... .max), radix: 16)
            temporaryPath = url.deletingLastPathComponent().appendingPathComponent(".\(name).tmp-\(random)").path
        } while fm.fileExists(atPath: temporaryPath)
        self.temporaryPath = temporaryPath

        let created: Result<hid_t, HDF5Error> = HDF5Library.withLock {
            let fapl = H5Pcreate(mien_H5P_FILE_ACCESS())
            guard fapl >= 0 else { return .failure(Self.libraryError(path, nil, "cannot create a file access property list")) }
            defer { _ = H5Pclose(fapl) }
            // STRONG: H5Fclose in commit() really closes (and flushes) the file
            // even if some object were still open, so the rename never moves a
            // file libhdf5 is still writing.
            guard H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 else {
                return .failure(Self.libraryError(path, nil, "cannot set the file close degree"))
            }
            // EXCL: never truncate a file we didn't create.
            let id = H5Fcreate(temporaryPath, mien_H5F_ACC_EXCL(), mien_H5P_DEFAULT(), fapl)
            guard id >= 0 else {
                let error = Self.libraryError(path, nil, "cannot create temporary file '\(temporaryPath)'")
                // A failure after the file was created (e.g. disk full) may
                // leave it behind; the name was checked free just above.
                unlink(temporaryPath)
                return .failure(error)
            }
            return .success(id)
        }
        state = .open(try created.get())
        temporarySlot = TemporaryFiles.register(temporaryPath)
    }

    /// Builds a file in memory through libhdf5's core driver without a backing store:
    /// nothing touches the disk, and `image()` returns the finished file's bytes. `name` is
    /// what errors call the file.
    public init(inMemory name: String) throws {
        self.path = name
        self.temporaryPath = nil
        let created: Result<hid_t, HDF5Error> = HDF5Library.withLock {
            let fapl = H5Pcreate(mien_H5P_FILE_ACCESS())
            guard fapl >= 0 else { return .failure(Self.libraryError(name, nil, "cannot create a file access property list")) }
            defer { _ = H5Pclose(fapl) }
            // The image grows by 4 MiB at a time: few reallocations for a model's weights.
            guard H5Pset_fapl_core(fapl, 4 << 20, false) >= 0 else {
                return .failure(Self.libraryError(name, nil, "cannot select the in-memory (core) driver"))
            }
            let id = H5Fcreate(HDF5Library.imageName(), mien_H5F_ACC_EXCL(), mien_H5P_DEFAULT(), fapl)
            guard id >= 0 else { return .failure(Self.libraryError(name, nil, "cannot create the file in memory")) }
            return .success(id)
        }
        state = .open(try created.get())
    }

    deinit {
        defer { TemporaryFiles.remove(temporarySlot) }
        // Not committed: drop the half export.
        HDF5Library.withLock {
            if case .open(let id) = state {
                _ = H5Fclose(id)
                _ = H5Eclear2(mien_H5E_DEFAULT())
                if let temporaryPath { unlink(temporaryPath) }
            }
        }
    }

    /// The root group "/".
    public var root: HDF5WriteGroup { HDF5WriteGroup(writer: self, path: "/") }

    /// Flushes and closes the file, then renames it over `path`, atomically
    /// replacing any existing file there (a symbolic link at `path` is
    /// replaced, not followed). On failure the temporary file is removed and
    /// `path` is left as it was. Throws if called twice.
    ///
    /// `verify`, if given, reads the complete temporary file back before the rename; if it
    /// throws, the file is abandoned the same way and its error is rethrown.
    public func commit(verify: ((String) throws -> Void)? = nil) throws {
        try HDF5Library.withLock {
            guard let temporaryPath else {
                throw error(nil, "a file built in memory is finished with image(), not commit()")
            }
            let id = try openID()
            // Whatever happens next, this writer is finished with the file.
            state = .failed(error(nil, "commit failed"))
            func abandon(_ error: HDF5Error) -> HDF5Error {
                state = .failed(error)
                unlink(temporaryPath)
                return error
            }
            guard H5Fclose(id) >= 0 else { throw abandon(libraryError(nil, "cannot close (flush) the file")) }
            // Data on disk before the name points at it, so a crash after the
            // rename can't expose a file with missing contents.
            if let message = Self.fsync(temporaryPath) {
                throw abandon(error(nil, "cannot sync '\(temporaryPath)' to disk: \(message)"))
            }
            do {
                try verify?(temporaryPath)
            } catch {
                _ = abandon(self.error(nil, "the written file did not read back"))
                throw error
            }
            guard rename(temporaryPath, path) == 0 else {
                let message = String(cString: strerror(errno))
                throw abandon(error(nil, "cannot rename '\(temporaryPath)' to the final name: \(message)"))
            }
            state = .committed
            // Persist the rename itself; best effort (the file is complete either way).
            _ = Self.fsync(URL(fileURLWithPath: path).deletingLastPathComponent().path)
        }
    }

    /// Flushes and closes a file built with `init(inMemory:)` and returns its bytes: a
    /// complete HDF5 file. Throws if called twice, or for a file on disk (see `commit()`).
    public func image() throws -> [UInt8] {
        try HDF5Library.withLock {
            guard temporaryPath == nil else {
                throw error(nil, "a file on disk is finished with commit(), not image()")
            }
            let id = try openID()
            state = .failed(error(nil, "taking the file's image failed"))
            func fail(_ message: String) -> HDF5Error {
                let failure = libraryError(nil, message)
                _ = H5Fclose(id)
                _ = H5Eclear2(mien_H5E_DEFAULT())
                state = .failed(failure)
                return failure
            }
            guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw fail("cannot flush the file") }
            let size = H5Fget_file_image(id, nil, 0)
            guard size > 0 else { throw fail("cannot get the size of the file's image") }
            var bytes = [UInt8](repeating: 0, count: size)
            let copied = bytes.withUnsafeMutableBytes { H5Fget_file_image(id, $0.baseAddress, $0.count) }
            guard copied == size else { throw fail("cannot copy the file's image") }
            guard H5Fclose(id) >= 0 else {
                let failure = libraryError(nil, "cannot close the file")
                state = .failed(failure)
                throw failure
            }
            state = .committed
            return bytes
        }
    }

    /// fsync(2) of a file or folder; nil on success, else the reason.
    private static func fsync(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        #if canImport(Glibc)
        let status = Glibc.fsync(fd)
        #else
        let status = Darwin.fsync(fd)
        #endif
        return status == 0 ? nil : String(cString: strerror(errno))
    }

    // MARK: - Internal helpers (lock must be held)

    /// The open file id, or the reason there is none.
    func openID() throws -> hid_t {
        switch state {
        case .open(let id): return id
        case .committed: throw error(nil, "the file was already committed; create a new HDF5Writer to write again")
        case .failed(let cause):
            throw error(nil, "the export was abandoned after an earlier failure (\(cause.message)); nothing was written")
        }
    }

    /// Runs a write on the open file. An `HDF5Error` thrown by `body` is a
    /// libhdf5 failure that may have left the file half-modified: the export
    /// is abandoned (temporary file removed). `Rejected` means nothing was
    /// touched; its error is rethrown and the writer stays usable.
    func modify<T>(_ body: (hid_t) throws -> T) throws -> T {
        try HDF5Library.withLock {
            let id = try openID()
            do {
                return try body(id)
            } catch let rejected as Rejected {
                throw rejected.error
            } catch let failure as HDF5Error {
                _ = H5Fclose(id)
                _ = H5Eclear2(mien_H5E_DEFAULT())
                if let temporaryPath { unlink(temporaryPath) }
                state = .failed(failure)
                throw failure
            }
        }
    }

    /// An error detected before anything in the file changed.
    struct Rejected: Error {
        var error: HDF5Error
    }

    func error(_ object: String?, _ message: String) -> HDF5Error {
        HDF5Error(file: path, object: object, message: message)
    }

    /// An error carrying libhdf5's innermost message for the call that just failed.
    func libraryError(_ object: String?, _ message: String) -> HDF5Error {
        Self.libraryError(path, object, message)
    }

    static func libraryError(_ file: String, _ object: String?, _ message: String) -> HDF5Error {
        if let inner = HDF5Library.takeErrorMessage() {
            return HDF5Error(file: file, object: object, message: "\(message): \(inner)")
        }
        return HDF5Error(file: file, object: object, message: message)
    }
}

/// A group in a file being written. Holds its writer (strong reference);
/// libhdf5 handles are opened per call and closed before returning.
public struct HDF5WriteGroup: Sendable {
    let writer: HDF5Writer
    /// Absolute HDF5 path: "/" or e.g. "/model_weights/dense".
    public let path: String

    init(writer: HDF5Writer, path: String) {
        self.writer = writer
        self.path = path
    }

    /// The most strings one string-array attribute may hold. Each takes 16
    /// bytes of the attribute's header message, which the default file format
    /// limits to 64 KiB (libhdf5 refuses from about 4090 strings on; the rest
    /// leaves room for a long attribute name).
    public static let maxStringArrayCount = 4000

    /// Creates the group `name` (a relative path such as "a/b" is allowed,
    /// creating missing intermediate groups; "/..." is absolute). Throws if
    /// something already exists there.
    public func createGroup(_ name: String) throws -> HDF5WriteGroup {
        let abs = try checkedPath(name, what: "group")
        try writer.modify { id in
            try checkFreeAndParentsAreGroups(id, abs)
            let lcpl = try linkCreationList(abs, name: name)
            defer { _ = H5Pclose(lcpl) }
            let gid = H5Gcreate2(id, abs, lcpl, mien_H5P_DEFAULT(), mien_H5P_DEFAULT())
            guard gid >= 0 else { throw writer.libraryError(abs, "cannot create group") }
            guard H5Gclose(gid) >= 0 else { throw writer.libraryError(abs, "cannot close group") }
        }
        return HDF5WriteGroup(writer: writer, path: abs)
    }

    /// The existing group `name` (relative path allowed; "/..." is absolute).
    public func group(_ name: String) throws -> HDF5WriteGroup {
        let abs = HDF5Library.join(path, name)
        return try HDF5Library.withLock {
            let id = try writer.openID()
            switch HDF5Library.objectKind(in: id, abs) {
            case nil: throw writer.error(abs, "no such group")
            case .dataset?: throw writer.error(abs, "not a group (it is a dataset)")
            case .datatype?, .other?: throw writer.error(abs, "not a group")
            case .group?: return HDF5WriteGroup(writer: writer, path: abs)
            }
        }
    }

    // MARK: Attributes, typed as h5py writes them (Keras reads them with h5py)

    /// A scalar variable-length UTF-8 string, as h5py's `attrs[name] = "text"`.
    /// Replaces an existing attribute of that name.
    public func setAttribute(_ name: String, _ value: String) throws {
        try setStrings(name, [value], scalar: true)
    }

    /// A 1-D array of variable-length UTF-8 strings, as h5py's
    /// `attrs[name] = ["a", "b"]`. An empty list is written as h5py writes
    /// `attrs[name] = []`: an empty float64 array of shape (0,) (Keras's legacy
    /// saver does exactly this for `weight_names` of layers without weights).
    public func setAttribute(_ name: String, _ values: [String]) throws {
        guard values.count <= Self.maxStringArrayCount else {
            throw writer.error(path, "attribute '\(name)': \(values.count) strings are more than one attribute holds "
                + "(\(Self.maxStringArrayCount)); split the list into '\(name)0', '\(name)1', ... as Keras does")
        }
        if values.isEmpty {
            try setNumeric(name, type: mien_H5T_IEEE_F64LE(), memoryType: mien_H5T_NATIVE_DOUBLE(),
                           dims: [0], value: [Double]())
        } else {
            try setStrings(name, values, scalar: false)
        }
    }

    /// A scalar little-endian int64, as h5py's `attrs[name] = 42`.
    public func setAttribute(_ name: String, _ value: Int64) throws {
        try setNumeric(name, type: mien_H5T_STD_I64LE(), memoryType: mien_H5T_NATIVE_INT64(), dims: nil, value: [value])
    }

    /// A scalar little-endian float64, as h5py's `attrs[name] = 2.5`.
    public func setAttribute(_ name: String, _ value: Double) throws {
        try setNumeric(name, type: mien_H5T_IEEE_F64LE(), memoryType: mien_H5T_NATIVE_DOUBLE(), dims: nil, value: [value])
    }

    // MARK: Datasets

    /// A float32 dataset (contiguous, little-endian), row-major `values`.
    /// `shape` may be [] (scalar, one value) or contain 0 (no values). The
    /// name may contain "/" (missing intermediate groups are created) and ":"
    /// (Keras 2 names like "kernel:0").
    public func writeDataset(_ name: String, shape: [Int], values: [Float]) throws {
        let abs = try checkedPath(name, what: "dataset")
        guard shape.count <= 32 else { throw writer.error(abs, "rank \(shape.count) exceeds HDF5's maximum of 32") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw writer.error(abs, "invalid shape \(shape)") }
        guard let count = CheckedSize.product(shape), count == values.count else {
            throw writer.error(abs, "shape \(shape) needs \(CheckedSize.product(shape).map(String.init) ?? "too many") values, got \(values.count)")
        }
        try writer.modify { id in
            try checkFreeAndParentsAreGroups(id, abs)
            let sid = try dataspace(abs, dims: shape.isEmpty ? nil : shape)
            defer { _ = H5Sclose(sid) }
            let lcpl = try linkCreationList(abs, name: name)
            defer { _ = H5Pclose(lcpl) }
            // Default creation properties: contiguous layout, no filters, as
            // h5py's create_dataset without options.
            let did = H5Dcreate2(id, abs, mien_H5T_IEEE_F32LE(), sid, lcpl, mien_H5P_DEFAULT(), mien_H5P_DEFAULT())
            guard did >= 0 else { throw writer.libraryError(abs, "cannot create dataset") }
            defer { _ = H5Dclose(did) }
            // Nothing to write for zero elements (and libhdf5 would want a buffer).
            if count > 0 {
                let status = values.withUnsafeBufferPointer {
                    H5Dwrite(did, mien_H5T_NATIVE_FLOAT(), mien_H5S_ALL(), mien_H5S_ALL(), mien_H5P_DEFAULT(), $0.baseAddress)
                }
                guard status >= 0 else { throw writer.libraryError(abs, "cannot write dataset") }
            }
        }
    }

    // MARK: - Helpers

    /// The absolute path for a new object; rejects names that can't be created.
    private func checkedPath(_ name: String, what: String) throws -> String {
        let abs = HDF5Library.join(path, name)
        guard !name.utf8.contains(0) else { throw writer.error(path, "invalid \(what) name (contains a NUL character)") }
        // "", "/", "." and the like name no new object.
        guard abs != "/", name.split(separator: "/").contains(where: { $0 != "." }) else {
            throw writer.error(path, "invalid \(what) name '\(name)'")
        }
        return abs
    }

    /// Rejects (without touching the file) a path that exists already or
    /// runs through something that isn't a group. Lock held.
    private func checkFreeAndParentsAreGroups(_ id: hid_t, _ abs: String) throws {
        var prefix = ""
        let parts = abs.split(separator: "/")
        for (i, part) in parts.enumerated() {
            prefix += "/" + part
            let last = i == parts.count - 1
            let exists = H5Lexists(id, prefix, mien_H5P_DEFAULT())
            guard exists >= 0 else { throw HDF5Writer.Rejected(error: writer.libraryError(prefix, "cannot look up")) }
            if exists == 0 { return }  // Missing from here on: created below.
            if last { throw HDF5Writer.Rejected(error: writer.error(abs, "already exists")) }
            switch HDF5Library.objectKind(in: id, prefix) {
            case .group?: continue
            case .dataset?: throw HDF5Writer.Rejected(error: writer.error(abs, "cannot create: '\(prefix)' is a dataset, not a group"))
            default: throw HDF5Writer.Rejected(error: writer.error(abs, "cannot create: '\(prefix)' is not a group"))
            }
        }
    }

    /// Link creation properties: create missing intermediate groups, and mark
    /// non-ASCII names as UTF-8 (as h5py does). Caller closes it. Lock held.
    private func linkCreationList(_ abs: String, name: String) throws -> hid_t {
        let lcpl = H5Pcreate(mien_H5P_LINK_CREATE())
        guard lcpl >= 0 else { throw writer.libraryError(abs, "cannot create a link creation property list") }
        guard H5Pset_create_intermediate_group(lcpl, 1) >= 0,
              name.allSatisfy(\.isASCII) || H5Pset_char_encoding(lcpl, H5T_CSET_UTF8) >= 0 else {
            let error = writer.libraryError(abs, "cannot set link creation properties")
            _ = H5Pclose(lcpl)
            throw error
        }
        return lcpl
    }

    /// A scalar (dims nil) or simple dataspace. Caller closes it. Lock held.
    private func dataspace(_ object: String, dims: [Int]?) throws -> hid_t {
        let sid: hid_t
        if let dims {
            let hdims = dims.map { hsize_t($0) }
            sid = H5Screate_simple(Int32(hdims.count), hdims, nil)
        } else {
            sid = H5Screate(H5S_SCALAR)
        }
        guard sid >= 0 else { throw writer.libraryError(object, "cannot create a dataspace") }
        return sid
    }

    private func checkAttributeName(_ name: String) throws {
        guard !name.isEmpty, !name.utf8.contains(0) else {
            throw writer.error(path, "invalid attribute name '\(name)'")
        }
    }

    /// Creates attribute `name` on this group, replacing an existing one
    /// (h5py deletes and recreates too), and lets `write` fill it. Lock held.
    private func createAttribute(_ id: hid_t, _ name: String, type: hid_t, space: hid_t,
                                 write: (hid_t) -> herr_t) throws {
        let exists = H5Aexists_by_name(id, path, name, mien_H5P_DEFAULT())
        guard exists >= 0 else { throw writer.libraryError(path, "attribute '\(name)': cannot look up") }
        if exists > 0 {
            guard H5Adelete_by_name(id, path, name, mien_H5P_DEFAULT()) >= 0 else {
                throw writer.libraryError(path, "attribute '\(name)': cannot replace the existing one")
            }
        }
        let aid = H5Acreate_by_name(id, path, name, type, space, mien_H5P_DEFAULT(), mien_H5P_DEFAULT(), mien_H5P_DEFAULT())
        guard aid >= 0 else {
            var error = writer.libraryError(path, "attribute '\(name)': cannot create")
            // The usual cause: more than the 64 KiB an attribute may take in
            // the object header (16 bytes per string of a string array).
            if error.message.contains("too large") {
                error.message += " (an attribute is limited to 64 KiB; split long lists into '\(name)0', '\(name)1', ... as Keras does)"
            }
            throw error
        }
        defer { _ = H5Aclose(aid) }
        guard write(aid) >= 0 else { throw writer.libraryError(path, "attribute '\(name)': cannot write") }
    }

    private func setNumeric<T>(_ name: String, type: @autoclosure () -> hid_t, memoryType: @autoclosure () -> hid_t,
                               dims: [Int]?, value: [T]) throws {
        try checkAttributeName(name)
        try writer.modify { id in
            let sid = try dataspace(path, dims: dims)
            defer { _ = H5Sclose(sid) }
            try createAttribute(id, name, type: type(), space: sid) { aid in
                // An empty array has nothing to write.
                value.isEmpty ? 0 : value.withUnsafeBytes { H5Awrite(aid, memoryType(), $0.baseAddress) }
            }
        }
    }

    /// Variable-length, NUL-terminated UTF-8 strings (h5py's str type).
    private func setStrings(_ name: String, _ values: [String], scalar: Bool) throws {
        try checkAttributeName(name)
        guard values.allSatisfy({ !$0.utf8.contains(0) }) else {
            throw writer.error(path, "attribute '\(name)': a string contains a NUL character, which a variable-length HDF5 string cannot hold")
        }
        // All strings NUL-terminated in one buffer, with a pointer to each.
        var bytes: [CChar] = []
        bytes.reserveCapacity(values.reduce(0) { $0 + $1.utf8.count + 1 })
        var offsets: [Int] = []
        for value in values {
            offsets.append(bytes.count)
            bytes.append(contentsOf: value.utf8.map { CChar(bitPattern: $0) })
            bytes.append(0)
        }
        try writer.modify { id in
            let tid = H5Tcopy(mien_H5T_C_S1())
            guard tid >= 0 else { throw writer.libraryError(path, "attribute '\(name)': cannot create a string type") }
            defer { _ = H5Tclose(tid) }
            guard H5Tset_size(tid, mien_H5T_VARIABLE()) >= 0,
                  H5Tset_cset(tid, H5T_CSET_UTF8) >= 0,
                  H5Tset_strpad(tid, H5T_STR_NULLTERM) >= 0 else {
                throw writer.libraryError(path, "attribute '\(name)': cannot create a string type")
            }
            let sid = try dataspace(path, dims: scalar ? nil : [values.count])
            defer { _ = H5Sclose(sid) }
            try createAttribute(id, name, type: tid, space: sid) { aid in
                bytes.withUnsafeBufferPointer { buffer in
                    let pointers: [UnsafePointer<CChar>?] = offsets.map { buffer.baseAddress! + $0 }
                    return pointers.withUnsafeBufferPointer { H5Awrite(aid, tid, $0.baseAddress) }
                }
            }
        }
    }
}
