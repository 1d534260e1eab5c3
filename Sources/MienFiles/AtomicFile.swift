#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing a file so that it is never half there: the contents go to a temporary file in the
/// same folder (".NAME.tmp-<random>"), which is flushed, read back by the caller's check, and
/// only then renamed over `path`. On any error, or when the process is stopped by a signal
/// (`TemporaryFiles`), the temporary file is removed and `path` is left as it was.
public enum AtomicFile {
    /// Writes through `contents` (given the descriptor and the temporary path), then runs
    /// `verify` on the temporary path, then renames. Errors from `contents` and `verify` are
    /// rethrown as they are; I/O errors become `FileError`s naming `path`.
    public static func write(to path: String, contents: (_ fd: Int32, _ temporaryPath: String) throws -> Void,
                             verify: ((_ temporaryPath: String) throws -> Void)? = nil) throws {
        let (folder, name) = split(path)
        guard !name.isEmpty, name != ".", name != ".." else {
            throw FileError(path: path, "the path names a folder, not a file")
        }
        let temporaryPath = folder + "/." + name + ".tmp-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        // O_EXCL: never clobber (or follow a symlink to) someone else's file of the same name.
        let fd = openFile(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw FileError(path: path, "cannot create a temporary file in '\(folder)': \(String(cString: strerror(errno)))")
        }
        var descriptor: Int32? = fd
        let slot = TemporaryFiles.register(temporaryPath)
        defer { TemporaryFiles.remove(slot) }
        do {
            try contents(fd, temporaryPath)
            // Flushed before the rename, so a crash cannot leave the new name on an empty file.
            guard fsync(fd) == 0 else { throw failure(path, "cannot flush '\(temporaryPath)'") }
            descriptor = nil
            guard close(fd) == 0 else { throw failure(path, "cannot close '\(temporaryPath)'") }
            try verify?(temporaryPath)
            guard rename(temporaryPath, path) == 0 else { throw failure(path, "cannot rename the temporary file to it") }
        } catch {
            if let descriptor { close(descriptor) }
            unlink(temporaryPath)
            throw error
        }
    }

    /// Writes `bytes` (see `write(to:contents:verify:)`).
    public static func write(_ bytes: [UInt8], to path: String,
                             verify: ((_ temporaryPath: String) throws -> Void)? = nil) throws {
        try write(to: path, contents: { fd, temporaryPath in
            try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path, temporaryPath: temporaryPath) }
        }, verify: verify)
    }

    /// write(2) until every byte is out; it may write less than asked, or be interrupted.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String, temporaryPath: String) throws {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = writeFile(fd, pointer, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw failure(path, "cannot write '\(temporaryPath)'")
            }
            pointer += written
            remaining -= written
        }
    }

    private static func failure(_ path: String, _ what: String) -> FileError {
        FileError(path: path, "\(what): \(String(cString: strerror(errno)))")
    }

    /// ("folder", "name") of a path; the folder is "." for a bare name.
    private static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = path[..<slash]
        return (folder.isEmpty ? "/" : String(folder), String(path[path.index(after: slash)...]))
    }
}

private func openFile(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
    open(path, flags, mode)
}

private func writeFile(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
