import MienCHDF5

/// The value of an HDF5 attribute.
///
/// Scalar vs array follows the attribute's dataspace (a 1-element array stays
/// an array; multi-dimensional arrays are flattened row-major). Integers
/// (including enums such as h5py's bool) read as Int64, floats as Double.
/// Variable- and fixed-length strings (ASCII or UTF-8) read as String; fixed-
/// length padding (NULs or spaces) is trimmed.
public enum HDF5Attribute: Sendable, Equatable {
    case string(String)
    case strings([String])
    case int(Int64)
    case ints([Int64])
    case double(Double)
    case doubles([Double])

    /// A scalar string, or the only element of a 1-element string array.
    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .strings(let a) where a.count == 1: return a[0]
        default: return nil
        }
    }

    /// The strings of a string array, a scalar string as one element, and an
    /// empty numeric array as [] (h5py stores `[]` as an empty float64 array).
    public var stringsValue: [String]? {
        switch self {
        case .string(let s): return [s]
        case .strings(let a): return a
        case .doubles(let a) where a.isEmpty: return []
        case .ints(let a) where a.isEmpty: return []
        default: return nil
        }
    }

    /// An integer scalar (or 1-element array).
    public var intValue: Int64? {
        switch self {
        case .int(let v): return v
        case .ints(let a) where a.count == 1: return a[0]
        default: return nil
        }
    }

    /// A numeric scalar (or 1-element array) as Double.
    public var doubleValue: Double? {
        switch self {
        case .double(let v): return v
        case .doubles(let a) where a.count == 1: return a[0]
        case .int(let v): return Double(v)
        case .ints(let a) where a.count == 1: return Double(a[0])
        default: return nil
        }
    }

    /// For error messages: "a string", "an integer array", ...
    var kindDescription: String {
        switch self {
        case .string: return "a string"
        case .strings: return "a string array"
        case .int: return "an integer"
        case .ints: return "an integer array"
        case .double: return "a float"
        case .doubles: return "a float array"
        }
    }
}

extension HDF5Attribute {
    /// Reads the open attribute `aid`. Lock must be held. `object`/`name` are
    /// only for error messages.
    static func read(_ aid: hid_t, file: HDF5File, object: String, name: String) throws -> HDF5Attribute {
        func fail(_ message: String) -> HDF5Error { file.error(object, "attribute '\(name)': \(message)") }
        func libraryFail(_ message: String) -> HDF5Error { file.libraryError(object, "attribute '\(name)': \(message)") }

        let tid = H5Aget_type(aid)
        guard tid >= 0 else { throw libraryFail("cannot read its type") }
        defer { _ = H5Tclose(tid) }
        let sid = H5Aget_space(aid)
        guard sid >= 0 else { throw libraryFail("cannot read its dataspace") }
        defer { _ = H5Sclose(sid) }

        let extent = try file.extent(sid, object, prefix: "attribute '\(name)': ")
        let isScalar = H5Sget_simple_extent_type(sid) == H5S_SCALAR
        let count = extent.count

        // Attribute data lives in the file, so a claim larger than the file is
        // a corrupt header; refuse before allocating.
        let storedSize = H5Tget_size(tid)
        guard storedSize > 0 else { throw libraryFail("cannot read its type size") }
        let (storedBytes, overflow) = count.multipliedReportingOverflow(by: storedSize)
        guard !overflow, storedBytes <= file.fileSize else {
            throw fail("claims \(count) elements of \(storedSize) bytes, more than the file holds (corrupt file?)")
        }

        switch H5Tget_class(tid) {
        case H5T_STRING:
            let values = try readStrings(aid, tid, sid, count, fail: fail, libraryFail: libraryFail)
            return isScalar ? .string(values.first ?? "") : .strings(values)

        case H5T_INTEGER:
            var values = [Int64](repeating: 0, count: count)
            if count > 0 {
                guard H5Aread(aid, mien_H5T_NATIVE_INT64(), &values) >= 0 else { throw libraryFail("cannot read") }
            }
            return isScalar ? .int(values.first ?? 0) : .ints(values)

        case H5T_FLOAT:
            var values = [Double](repeating: 0, count: count)
            if count > 0 {
                guard H5Aread(aid, mien_H5T_NATIVE_DOUBLE(), &values) >= 0 else { throw libraryFail("cannot read") }
            }
            return isScalar ? .double(values.first ?? 0) : .doubles(values)

        case H5T_ENUM:
            let values = try readEnum(aid, tid, count, fail: fail, libraryFail: libraryFail)
            return isScalar ? .int(values.first ?? 0) : .ints(values)

        case let cls:
            throw fail("unsupported type (\(HDF5ElementType.className(cls)))")
        }
    }

    private static func readStrings(_ aid: hid_t, _ tid: hid_t, _ sid: hid_t, _ count: Int,
                                    fail: (String) -> HDF5Error,
                                    libraryFail: (String) -> HDF5Error) throws -> [String] {
        guard count > 0 else { return [] }
        let isVariable = H5Tis_variable_str(tid)
        guard isVariable >= 0 else { throw libraryFail("cannot read its string type") }

        if isVariable > 0 {
            // Read as C strings with the file's character set; libhdf5
            // allocates each string, and we must reclaim them.
            let mem = H5Tcopy(mien_H5T_C_S1())
            guard mem >= 0 else { throw libraryFail("cannot create a string type") }
            defer { _ = H5Tclose(mem) }
            guard H5Tset_size(mem, mien_H5T_VARIABLE()) >= 0,
                  H5Tset_cset(mem, H5Tget_cset(tid)) >= 0 else {
                throw libraryFail("cannot create a string type")
            }
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            return try pointers.withUnsafeMutableBufferPointer { buffer in
                guard H5Aread(aid, mem, buffer.baseAddress) >= 0 else { throw libraryFail("cannot read") }
                defer { _ = mien_vlen_reclaim(mem, sid, buffer.baseAddress) }
                // Invalid UTF-8 is refused, not repaired: a repaired key ("na\u{FFFD}me")
                // would be read differently from what Keras reads.
                return try buffer.map { pointer in
                    guard let pointer else { return "" }
                    guard let text = String(validatingCString: pointer) else { throw fail("holds a string that is not valid UTF-8") }
                    return text
                }
            }
        }

        // Fixed-length: `size` bytes per element, padded per the type's strpad.
        let size = H5Tget_size(tid)
        let pad = H5Tget_strpad(tid)
        var bytes = [UInt8](repeating: 0, count: count * size)  // bounded by the file-size check
        guard H5Aread(aid, tid, &bytes) >= 0 else { throw libraryFail("cannot read") }
        return try (0..<count).map { i in
            var element = bytes[(i * size)..<((i + 1) * size)]
            if pad == H5T_STR_NULLTERM, let nul = element.firstIndex(of: 0) {
                element = element[..<nul]
            } else {
                // NULLPAD (h5py's choice) and SPACEPAD: drop trailing padding.
                // Embedded trailing NULs are trimmed for SPACEPAD too.
                while let last = element.last, last == 0 || (pad == H5T_STR_SPACEPAD && last == 0x20) {
                    element = element.dropLast()
                }
            }
            guard let text = String(validating: element, as: UTF8.self) else {
                throw fail("holds a string that is not valid UTF-8")
            }
            return text
        }
    }

    /// Enums of integers (h5py bools are int8 enums): libhdf5 won't convert
    /// enum -> integer, so read the native enum and decode its integer bytes.
    private static func readEnum(_ aid: hid_t, _ tid: hid_t, _ count: Int,
                                 fail: (String) -> HDF5Error,
                                 libraryFail: (String) -> HDF5Error) throws -> [Int64] {
        let native = H5Tget_native_type(tid, H5T_DIR_DEFAULT)
        guard native >= 0 else { throw libraryFail("cannot read its enum type") }
        defer { _ = H5Tclose(native) }
        let base = H5Tget_super(native)
        guard base >= 0 else { throw libraryFail("cannot read its enum base type") }
        let signed = H5Tget_sign(base) == H5T_SGN_2
        _ = H5Tclose(base)
        let size = H5Tget_size(native)
        guard [1, 2, 4, 8].contains(size) else { throw fail("unsupported enum size \(size)") }
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count * size)
        guard H5Aread(aid, native, &bytes) >= 0 else { throw libraryFail("cannot read") }
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { i -> Int64 in
                let o = i * size
                switch (size, signed) {
                case (1, true): return Int64(raw.load(fromByteOffset: o, as: Int8.self))
                case (1, false): return Int64(raw.load(fromByteOffset: o, as: UInt8.self))
                case (2, true): return Int64(raw.loadUnaligned(fromByteOffset: o, as: Int16.self))
                case (2, false): return Int64(raw.loadUnaligned(fromByteOffset: o, as: UInt16.self))
                case (4, true): return Int64(raw.loadUnaligned(fromByteOffset: o, as: Int32.self))
                case (4, false): return Int64(raw.loadUnaligned(fromByteOffset: o, as: UInt32.self))
                case (_, true): return raw.loadUnaligned(fromByteOffset: o, as: Int64.self)
                default: return Int64(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))
                }
            }
        }
    }
}
