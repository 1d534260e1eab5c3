import Foundation
import MienFiles
import MienNN

public enum SafeTensorsWriter {
    /// Writes F32 tensors (in the given order) and string metadata. Writes to a temporary file in the
    /// same folder (".NAME.tmp-<random>") and renames it over `path` only when complete, so an
    /// interrupted write never leaves a half file under the real name; on any error the temporary file is removed.
    ///
    /// The layout is the reference writer's: the JSON header padded with spaces so the data
    /// starts at a multiple of 8 bytes, tensors contiguous in the given order, no gaps.
    /// Empty metadata is left out of the header, as the reference writer does.
    ///
    /// `verify`, if given, reads the complete temporary file back before it is renamed into
    /// place; if it throws, the temporary file is removed and `path` is left as it was.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String], to path: String,
                             verify: ((String) throws -> Void)? = nil) throws {
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

        do {
            try AtomicFile.write(to: path, contents: { fd, temporaryPath in
                func put(_ bytes: UnsafeRawBufferPointer) throws {
                    try AtomicFile.writeAll(fd, bytes, path: path, temporaryPath: temporaryPath)
                }
                var length = UInt64(json.count).littleEndian
                try withUnsafeBytes(of: &length) { try put($0) }
                try json.withUnsafeBytes { try put($0) }
                for (_, tensor) in tensors {
                    #if _endian(little)
                    try tensor.scalars.withUnsafeBytes { try put($0) }
                    #else
                    let swapped = tensor.scalars.map { $0.bitPattern.littleEndian }
                    try swapped.withUnsafeBytes { try put($0) }
                    #endif
                }
            }, verify: verify)
        } catch let error as FileError {
            throw fail(.io, nil, error.message)
        }
    }
}
