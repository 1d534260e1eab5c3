#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that cannot be read as asked: not there, not a regular file, too large, unreadable.
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    public var path: String
    public var message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Reading untrusted paths: only regular files (a FIFO would block forever, `/dev/zero`
/// never ends, a directory is no file), never more bytes than a stated limit.
///
/// Symbolic links are followed, and what they point to must be a regular file.
public enum RegularFile {
    /// The size of the regular file at `path`; throws for a missing path or anything that
    /// is not a regular file, naming what it is.
    public static func size(_ path: String) throws -> Int {
        guard !path.isEmpty else { throw FileError(path: path, "empty path") }
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileError(path: path, errnoMessage()) }
        try requireRegular(info, path)
        return Int(info.st_size)
    }

    /// Whether `path` is a regular file (following links); false for anything else or an error.
    public static func exists(_ path: String) -> Bool {
        (try? size(path)) != nil
    }

    /// Opens the regular file at `path` read-only, without blocking (a FIFO fails the type
    /// check instead of waiting for a writer), and returns the descriptor and the file's size.
    /// The caller closes the descriptor.
    public static func open(_ path: String) throws -> (fd: Int32, size: Int) {
        guard !path.isEmpty else { throw FileError(path: path, "empty path") }
        let fd = openFile(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileError(path: path, errnoMessage()) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let message = errnoMessage()
            close(fd)
            throw FileError(path: path, message)
        }
        do {
            try requireRegular(info, path)
        } catch {
            close(fd)
            throw error
        }
        // Reads block as usual on a regular file; clear O_NONBLOCK for clarity.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, Int(info.st_size))
    }

    /// The whole regular file at `path`, refused if it is larger than `limit` bytes (checked
    /// before reading, and again while reading, for files that grow or lie about their size).
    /// `what` names the kind of file in the message ("an image", "a model config").
    public static func read(_ path: String, limit: Int, what: String = "the file") throws -> [UInt8] {
        let (fd, size) = try open(path)
        defer { close(fd) }
        func tooLarge(_ bytes: Int) -> FileError {
            FileError(path: path, "\(what) has \(bytes) bytes, more than the \(limit)-byte limit")
        }
        guard size <= limit else { throw tooLarge(size) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { readFile(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: path, "cannot read: " + errnoMessage())
            }
            if n == 0 { break }
            guard bytes.count + n <= limit else { throw tooLarge(bytes.count + n) }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// The whole file as UTF-8 text (see `read`).
    public static func text(_ path: String, limit: Int, what: String = "the file") throws -> String {
        let bytes = try read(path, limit: limit, what: what)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FileError(path: path, "\(what) is not UTF-8 text")
        }
        return text
    }

    private static func requireRegular(_ info: stat, _ path: String) throws {
        let kind = info.st_mode & S_IFMT
        guard kind != S_IFREG else { return }
        let name: String
        switch kind {
        case S_IFDIR: name = "a directory"
        case S_IFIFO: name = "a FIFO (named pipe)"
        case S_IFCHR: name = "a character device"
        case S_IFBLK: name = "a block device"
        case S_IFSOCK: name = "a socket"
        default: name = "not a regular file"
        }
        throw FileError(path: path, kind == S_IFDIR || kind == S_IFIFO || kind == S_IFCHR || kind == S_IFBLK || kind == S_IFSOCK
                        ? "is \(name), not a regular file" : name)
    }

    private static func errnoMessage() -> String {
        switch errno {
        case ENOENT: return "no such file"
        case EACCES: return "permission denied"
        default: return String(cString: strerror(errno))
        }
    }
}

/// open(2) and read(2), under names that `RegularFile`'s own do not shadow.
private func openFile(_ path: String, _ flags: Int32) -> Int32 {
    open(path, flags)
}

private func readFile(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
