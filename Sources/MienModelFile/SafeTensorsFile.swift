#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MienFiles
import MienNN

/// A safetensors file, memory-mapped (mmap, read-only, MAP_PRIVATE) and validated on open.
///
/// Everything the header claims is checked in `init` against the real file size, so
/// `tensor(_:)` only copies bytes that are known to be inside the mapping: a hostile file
/// gives a `SafeTensorsError`, never a trap or an out-of-bounds read. (Like any mmap reader,
/// this cannot protect against another process truncating the file while it is open.)
///
/// Immutable after `init` and the mapping is read-only, so sharing one instance between
/// threads is safe: hence `@unchecked Sendable`.
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let metadata: [String: String]
    /// Sorted by their position in the data buffer (`range.lowerBound`), which is the order
    /// the writer laid them out in.
    public let tensors: [TensorInfo]

    private let indexByName: [String: Int]
    private let mapping: UnsafeRawPointer
    private let mappedLength: Int
    /// Whether `mapping` is an mmap of the file (else memory this instance allocated).
    private let isMapped: Bool
    /// File offset of the data buffer: 8 + header length.
    private let dataStart: Int

    /// The reference implementation's limit; a larger header is almost surely garbage,
    /// and refusing it keeps a hostile length from making us copy or parse gigabytes.
    public static let maxHeaderLength = 100_000_000

    public convenience init(path: String) throws {
        let (mapping, length) = try Self.map(path)
        do {
            try self.init(path: path, mapping: mapping, length: length, isMapped: true)
        } catch {
            munmap(UnsafeMutableRawPointer(mutating: mapping), length)
            throw error
        }
    }

    /// A safetensors file held in memory (`path` names it in errors), validated exactly as a
    /// file on disk is: what the fuzz targets and in-memory models use.
    public convenience init(bytes: [UInt8], path: String = "<memory>") throws {
        guard bytes.count >= 8 else {
            throw SafeTensorsError(.truncated, path: path,
                                   "file has \(bytes.count) bytes; a safetensors file starts with an 8-byte header length")
        }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 16)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        do {
            try self.init(path: path, mapping: UnsafeRawPointer(copy), length: bytes.count, isMapped: false)
        } catch {
            copy.deallocate()
            throw error
        }
    }

    private init(path: String, mapping: UnsafeRawPointer, length: Int, isMapped: Bool) throws {
        let parsed = try Self.validate(UnsafeRawBufferPointer(start: mapping, count: length), path: path)
        self.path = path
        self.mapping = mapping
        self.mappedLength = length
        self.isMapped = isMapped
        self.metadata = parsed.metadata
        self.tensors = parsed.tensors
        self.dataStart = parsed.dataStart
        self.indexByName = Dictionary(uniqueKeysWithValues: parsed.tensors.enumerated().map { ($1.name, $0) })
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: mapping), mappedLength)
        } else {
            UnsafeMutableRawPointer(mutating: mapping).deallocate()
        }
    }

    /// The file's size in bytes.
    public var fileSize: Int { mappedLength }

    public func info(_ name: String) -> TensorInfo? {
        indexByName[name].map { tensors[$0] }
    }

    /// The tensor's elements as Floats: F32 is copied with one memcpy; F16, BF16 and the
    /// 8-bit floats convert exactly; F64 and the integer types round to nearest even; BOOL
    /// reads as 0 or 1.
    public func tensor(_ name: String) throws -> Tensor {
        guard let info = info(name) else {
            let known = tensors.prefix(8).map { "'\($0.name)'" }.joined(separator: ", ")
            let more = tensors.count > 8 ? ", …" : ""
            throw SafeTensorsError(.missingTensor, path: path, tensor: name,
                                   "no such tensor; the file has \(tensors.count): \(known)\(more)")
        }
        let count = info.count
        let source = mapping + dataStart + info.range.lowerBound   // inside the mapping: checked on open
        var convertible = true
        let scalars = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            if count > 0 {
                convertible = info.dtype.decode(source, count: count, into: buffer.baseAddress!)
            }
            initialized = convertible ? count : 0
        }
        guard convertible else {
            throw SafeTensorsError(.dtype, path: path, tensor: name,
                                   "dtype \(info.dtype.rawValue) (complex) cannot be read as Float")
        }
        return Tensor(shape: info.shape, scalars: scalars)
    }

    // MARK: - Opening

    /// Maps the whole file read-only. MAP_PRIVATE so that nothing we do can reach the file.
    private static func map(_ path: String) throws -> (UnsafeRawPointer, Int) {
        // A FIFO or a device must not hang or stream forever: regular files only.
        let (fd, size): (Int32, Int)
        do {
            (fd, size) = try RegularFile.open(path)
        } catch let error as FileError {
            throw SafeTensorsError(.io, path: path, "cannot open: \(error.message)")
        }
        defer { close(fd) }   // the mapping stays valid after the descriptor is closed
        // Checked before mapping: mmap of 0 bytes fails, and 8 bytes are needed for the length.
        guard size >= 8 else {
            throw SafeTensorsError(.truncated, path: path,
                                   "file has \(size) bytes; a safetensors file starts with an 8-byte header length")
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0),
              base != UnsafeMutableRawPointer(bitPattern: -1) /* MAP_FAILED */ else {
            throw SafeTensorsError(.io, path: path, "cannot mmap \(size) bytes: \(errnoText())")
        }
        return (UnsafeRawPointer(base), size)
    }

    private struct Parsed {
        var metadata: [String: String]
        var tensors: [TensorInfo]
        var dataStart: Int
    }

    private static func validate(_ file: UnsafeRawBufferPointer, path: String) throws -> Parsed {
        func fail(_ kind: SafeTensorsError.Kind, _ tensor: String? = nil, _ message: String) -> SafeTensorsError {
            SafeTensorsError(kind, path: path, tensor: tensor, message)
        }

        // Header length: compared as UInt64 before any conversion to Int, so 2^63 and
        // friends cannot wrap around.
        let headerLength = UInt64(littleEndian: file.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        let available = UInt64(file.count - 8)
        guard headerLength > 0 else {
            throw fail(.header, nil, "header length is 0")
        }
        guard headerLength <= UInt64(maxHeaderLength) else {
            throw fail(.header, nil, "header length \(headerLength) exceeds the \(maxHeaderLength)-byte limit")
        }
        guard headerLength <= available else {
            throw fail(.truncated, nil,
                       "header length \(headerLength) is larger than the \(available) bytes after the length field")
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = file.count - dataStart
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<dataStart])

        let (metadata, entries) = try parseHeader(headerBytes, fail: fail)
        let tensors = try checkLayout(entries, dataLength: dataLength, fail: fail)
        return Parsed(metadata: metadata, tensors: tensors, dataStart: dataStart)
    }

    /// JSON → metadata and per-tensor infos, checking types, dtypes and byte counts.
    ///
    /// Duplicate tensor names: JSONSerialization keeps the last of duplicate keys and does not
    /// report them (checked on Linux), and we do not want a hand-written JSON parser to catch
    /// them. A dropped duplicate with its own bytes leaves those bytes uncovered, so the tiling
    /// check in `checkLayout` still rejects the file (as a gap). Only a duplicate whose range
    /// is identical to the survivor's, or an empty one, slips through, and it is harmless.
    private static func parseHeader(
        _ bytes: UnsafeRawBufferPointer,
        fail: (SafeTensorsError.Kind, String?, String) -> SafeTensorsError
    ) throws -> ([String: String], [TensorInfo]) {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw fail(.header, nil, "header is not valid UTF-8")
        }
        // The reference reader (serde_json) refuses a byte-order mark; Foundation skips it.
        guard !bytes.starts(with: [0xEF, 0xBB, 0xBF]) else {
            throw fail(.header, nil, "header starts with a byte-order mark, which safetensors does not allow")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw fail(.header, nil, "header is not valid JSON: \(reason)")
        }
        guard let object = json as? [String: Any] else {
            throw fail(.header, nil, "header is JSON \(jsonKind(json)), not an object")
        }

        var metadata: [String: String] = [:]
        var infos: [TensorInfo] = []
        // Sorted so that, with several bad entries, the same one is reported on every run
        // (dictionary order varies between processes).
        for name in object.keys.sorted() {
            let value = object[name]!
            if name == "__metadata__" {
                metadata = try parseMetadata(value, fail: fail)
                continue
            }
            infos.append(try parseEntry(name, value, fail: fail))
        }
        return (metadata, infos)
    }

    private static func parseMetadata(
        _ value: Any, fail: (SafeTensorsError.Kind, String?, String) -> SafeTensorsError
    ) throws -> [String: String] {
        if value is NSNull { return [:] }   // the reference reader accepts null (an Option)
        guard let object = value as? [String: Any] else {
            throw fail(.header, nil, "__metadata__ is \(jsonKind(value)), not an object of strings")
        }
        var metadata: [String: String] = [:]
        for key in object.keys.sorted() {
            guard let string = object[key] as? String else {
                throw fail(.header, nil, "__metadata__['\(key)'] is \(jsonKind(object[key]!)); metadata values must be strings")
            }
            metadata[key] = string
        }
        return metadata
    }

    private static func parseEntry(
        _ name: String, _ value: Any, fail: (SafeTensorsError.Kind, String?, String) -> SafeTensorsError
    ) throws -> TensorInfo {
        guard let entry = value as? [String: Any] else {
            throw fail(.header, name, "entry is \(jsonKind(value)), not an object with dtype, shape and data_offsets")
        }
        for field in ["dtype", "shape", "data_offsets"] where entry[field] == nil {
            throw fail(.header, name, "entry has no '\(field)'")
        }

        guard let dtypeName = entry["dtype"] as? String else {
            throw fail(.header, name, "dtype is \(jsonKind(entry["dtype"]!)), not a string")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            if SafeTensorsDType.subByteNames.contains(dtypeName) {
                throw fail(.dtype, name, "dtype '\(dtypeName)' packs several elements per byte; not supported")
            }
            throw fail(.dtype, name, "unknown dtype '\(dtypeName)'")
        }

        guard let shapeArray = entry["shape"] as? [Any] else {
            throw fail(.header, name, "shape is \(jsonKind(entry["shape"]!)), not an array")
        }
        var shape: [Int] = []
        for (i, dim) in shapeArray.enumerated() {
            guard let n = nonNegativeInt(dim) else {
                throw fail(.header, name, "shape[\(i)] is \(jsonValueText(dim)); dimensions must be non-negative integers")
            }
            shape.append(n)
        }

        guard let offsetArray = entry["data_offsets"] as? [Any], offsetArray.count == 2 else {
            throw fail(.header, name, "data_offsets is \(jsonValueText(entry["data_offsets"]!)), not [begin, end]")
        }
        guard let begin = nonNegativeInt(offsetArray[0]), let end = nonNegativeInt(offsetArray[1]) else {
            throw fail(.header, name, "data_offsets \(jsonValueText(offsetArray)) must be two non-negative integers")
        }
        guard begin <= end else {
            throw fail(.offsets, name, "data_offsets [\(begin), \(end)] end before they begin")
        }

        // Overflow-checked: a hostile shape such as [2^40, 2^40] must not wrap around to a
        // small count that then "matches" the offsets.
        guard let count = CheckedSize.product(shape) else {
            throw fail(.byteCount, name, "element count of shape \(shape) overflows")
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else {
            throw fail(.byteCount, name, "byte count of shape \(shape) × \(dtype.byteSize)-byte \(dtype.rawValue) overflows")
        }
        guard end - begin == byteCount else {
            throw fail(.byteCount, name,
                       "shape \(shape) of \(dtype.rawValue) needs \(byteCount) bytes, but data_offsets [\(begin), \(end)] hold \(end - begin)")
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, range: begin..<end)
    }

    /// The tensors, sorted by offset, must tile the data buffer `0..<dataLength` exactly:
    /// no overlap (two tensors sharing bytes), no gap (bytes nobody owns, e.g. a hidden
    /// payload), and nothing past the end of the file.
    private static func checkLayout(
        _ infos: [TensorInfo], dataLength: Int,
        fail: (SafeTensorsError.Kind, String?, String) -> SafeTensorsError
    ) throws -> [TensorInfo] {
        // Ties (empty tensors at the same offset) are broken by end, then by name, so the
        // order is the same on every run.
        let sorted = infos.sorted {
            ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name)
        }
        var cursor = 0
        var previous: TensorInfo?
        for info in sorted {
            let range = "[\(info.range.lowerBound), \(info.range.upperBound)]"
            if info.range.lowerBound < cursor, let previous {
                throw fail(.offsets, info.name,
                           "data_offsets \(range) overlap tensor '\(previous.name)' [\(previous.range.lowerBound), \(previous.range.upperBound)]")
            }
            if info.range.lowerBound > cursor {
                throw fail(.offsets, info.name,
                           "data_offsets \(range) leave a gap: bytes \(cursor)..<\(info.range.lowerBound) of the data buffer belong to no tensor")
            }
            if info.range.upperBound > dataLength {
                throw fail(.truncated, info.name,
                           "data_offsets \(range) run past the end of the data buffer (\(dataLength) bytes): the file is truncated")
            }
            cursor = info.range.upperBound
            previous = info
        }
        if cursor < dataLength {
            throw fail(.offsets, nil,
                       "bytes \(cursor)..<\(dataLength) of the data buffer belong to no tensor (\(dataLength - cursor) trailing bytes)")
        }
        return sorted
    }
}

// MARK: - JSON helpers

/// A JSON integer ≥ 0 that fits in Int. Rejects booleans (which JSONSerialization hands
/// back as NSNumbers that `as? Int` would accept), and numbers written with a fraction or
/// exponent (`2.0`, `1e3`), which the reference reader rejects too. The NSNumber's
/// `objCType` tells them apart: `is Bool` does not, as it is also true for the numbers 0 and 1.
private func nonNegativeInt(_ value: Any) -> Int? {
    guard let number = value as? NSNumber else { return nil }
    let type = String(cString: number.objCType)
    guard type != "c", type != "d", type != "f" else { return nil }
    guard let int = value as? Int, int >= 0 else { return nil }
    return int
}

/// A JSON `true`/`false` (an NSNumber of objCType "c" from JSONSerialization).
private func jsonBool(_ value: Any) -> Bool? {
    guard let number = value as? NSNumber, String(cString: number.objCType) == "c" else { return nil }
    return number.boolValue
}

private func jsonKind(_ value: Any) -> String {
    if jsonBool(value) != nil { return "a boolean" }
    switch value {
    case is NSNull: return "null"
    case is String: return "a string"
    case is NSNumber: return "a number"
    case is [Any]: return "an array"
    case is [String: Any]: return "an object"
    default: return "\(type(of: value))"
    }
}

/// A short rendering of a JSON value for messages (`-3`, `2.5`, `"x"`, `[1, 2]`).
private func jsonValueText(_ value: Any) -> String {
    switch value {
    case _ where jsonBool(value) != nil: return jsonBool(value)! ? "true" : "false"
    case is NSNull: return "null"
    case let s as String: return "\"\(s.prefix(40))\""
    case let n as NSNumber: return n.stringValue
    case let a as [Any]: return "[" + a.prefix(8).map(jsonValueText).joined(separator: ", ") + (a.count > 8 ? ", …" : "") + "]"
    case is [String: Any]: return "an object"
    default: return "\(value)"
    }
}

func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
