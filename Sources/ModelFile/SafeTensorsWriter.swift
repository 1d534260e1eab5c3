#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NN

public enum SafeTensorsWriter {
    /// Writes F32 tensors (in the given order) and string metadata. Writes to a temporary file in the
    /// same folder (".NAME.tmp-<random>") and renames it over `path` only when complete, so an
    /// interrupted write never leaves a half file under the real name; on any error the temporary file is removed.
    ///
    /// The layout is the reference writer's: the JSON header padded with spaces so the data
    /// starts at a multiple of 8 bytes, tensors contiguous in the given order, no gaps.
    /// Empty metadata is left out of the header, as the reference writer does.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String], to path: String) throws {
        func fail(_ kind: SafeTensorsError.Kind, _ tensor: String? = nil, _ message: String) -> SafeTensorsError {
            SafeTensorsError(kind, path: path, tensor: tensor, message)
        }

        // Build and check the whole header before touching the disk.
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, tensor) in tensors {
            guard name != "__metadata__" else {
                throw fail(.header, name, "'__metadata__' is reserved and cannot name a tensor")
            }
            guard header[name] == nil else {
                throw fail(.header, name, "duplicate tensor name")
            }
            let byteCount = tensor.count * MemoryLayout<Float>.size
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + byteCount]] as [String: Any]
            offset += byteCount
        }
        var json: Data
        do {
            // Sorted keys: the same input gives the same bytes. Readers do not depend on key order.
            json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        } catch {
            throw fail(.header, nil, "cannot encode the header as JSON: \(error)")
        }
        // Pad with spaces (valid JSON whitespace) so the data buffer is 8-byte aligned in the
        // file; readers that map the file can then view F64/I64 tensors in place.
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))

        let (folder, name) = split(path)
        guard !name.isEmpty, name != ".", name != ".." else {
            throw fail(.io, nil, "the path names a folder, not a file")
        }
        let tempPath = folder + "/." + name + ".tmp-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)

        // O_EXCL: never clobber (or follow a symlink to) someone else's file of the same name.
        let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else {
            throw fail(.io, nil, "cannot create temporary file in '\(folder)': \(errnoText())")
        }
        var descriptor: Int32? = fd
        do {
            var length = UInt64(json.count).littleEndian
            try withUnsafeBytes(of: &length) { try writeAll(fd, $0, tempPath) }
            try json.withUnsafeBytes { try writeAll(fd, $0, tempPath) }
            for (_, tensor) in tensors {
                #if _endian(little)
                try tensor.scalars.withUnsafeBytes { try writeAll(fd, $0, tempPath) }
                #else
                let swapped = tensor.scalars.map { $0.bitPattern.littleEndian }
                try swapped.withUnsafeBytes { try writeAll(fd, $0, tempPath) }
                #endif
            }
            // Flush before the rename, so a crash cannot leave the new name on an empty file.
            guard fsync(fd) == 0 else { throw IOFailure(what: "fsync '\(tempPath)'", code: errno) }
            descriptor = nil
            guard close(fd) == 0 else { throw IOFailure(what: "close '\(tempPath)'", code: errno) }
            guard rename(tempPath, path) == 0 else { throw IOFailure(what: "rename the temporary file to '\(path)'", code: errno) }
        } catch {
            if let descriptor { close(descriptor) }
            unlink(tempPath)
            if let failure = error as? IOFailure {
                throw fail(.io, nil, "cannot \(failure.what): \(errnoText(failure.code))")
            }
            throw error
        }
    }

    private struct IOFailure: Error {
        var what: String
        var code: Int32
    }

    /// write(2) until every byte is out; it may write less than asked, or be interrupted.
    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, _ tempPath: String) throws {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = posixWrite(fd, pointer, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw IOFailure(what: "write '\(tempPath)'", code: errno)
            }
            pointer += written
            remaining -= written
        }
    }

    /// ("folder", "name") of a path; the folder is "." for a bare name.
    private static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = path[..<slash]
        return (folder.isEmpty ? "/" : String(folder), String(path[path.index(after: slash)...]))
    }
}

/// write(2), under a name that `SafeTensorsWriter.write` does not shadow.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
