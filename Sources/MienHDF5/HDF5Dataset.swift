import MienCHDF5

/// The element type of a dataset, for checks and error messages.
public enum HDF5ElementType: Sendable, Equatable, CustomStringConvertible {
    case float(bits: Int)
    case integer(bits: Int, signed: Bool)
    case string
    /// Anything else, named by its HDF5 class ("compound", "enum", ...).
    case other(String)

    /// "float32", "int64", "uint8", "string", "compound", ...
    public var description: String {
        switch self {
        case .float(let bits): return "float\(bits)"
        case .integer(let bits, let signed): return "\(signed ? "int" : "uint")\(bits)"
        case .string: return "string"
        case .other(let name): return name
        }
    }

    /// Whether `readFloats`/`readDoubles` can convert it.
    public var isNumeric: Bool {
        switch self {
        case .float, .integer: return true
        case .string, .other: return false
        }
    }

    /// Describes a datatype id. Lock must be held.
    init(_ tid: hid_t) {
        let bits = H5Tget_size(tid) * 8
        switch H5Tget_class(tid) {
        case H5T_FLOAT: self = .float(bits: bits)
        case H5T_INTEGER: self = .integer(bits: bits, signed: H5Tget_sign(tid) == H5T_SGN_2)
        case H5T_STRING: self = .string
        case let cls: self = .other(Self.className(cls))
        }
    }

    /// Whether a numeric type is laid out as every writer of Keras files writes it: an IEEE
    /// float of 16, 32 or 64 bits (sign, exponent and mantissa where IEEE puts them, its
    /// bias, an implied leading bit), or an integer using all its bits. libhdf5 1.10 converts
    /// from whatever the file declares, so one damaged byte in a type message (an exponent
    /// of size 0) would turn the weights into other numbers without an error. Lock must be held.
    static func hasStandardLayout(_ tid: hid_t) -> Bool {
        let size = H5Tget_size(tid)
        let order = H5Tget_order(tid)
        guard order == H5T_ORDER_LE || order == H5T_ORDER_BE,
              H5Tget_offset(tid) == 0, H5Tget_precision(tid) == size * 8 else { return false }
        switch H5Tget_class(tid) {
        case H5T_INTEGER:
            return [1, 2, 4, 8].contains(size)
        case H5T_FLOAT:
            // (sign position, exponent position and size, mantissa position and size, bias)
            let ieee: [Int: (Int, Int, Int, Int, Int, Int)] = [2: (15, 10, 5, 0, 10, 15), 4: (31, 23, 8, 0, 23, 127),
                                                                8: (63, 52, 11, 0, 52, 1023)]
            guard let expected = ieee[size] else { return false }
            var (spos, epos, esize, mpos, msize) = (0, 0, 0, 0, 0)
            guard H5Tget_fields(tid, &spos, &epos, &esize, &mpos, &msize) >= 0 else { return false }
            return (spos, epos, esize, mpos, msize, H5Tget_ebias(tid)) == expected && H5Tget_norm(tid) == H5T_NORM_IMPLIED
        default:
            return false
        }
    }

    static func className(_ cls: H5T_class_t) -> String {
        switch cls {
        case H5T_INTEGER: return "integer"
        case H5T_FLOAT: return "float"
        case H5T_TIME: return "time"
        case H5T_STRING: return "string"
        case H5T_BITFIELD: return "bitfield"
        case H5T_OPAQUE: return "opaque"
        case H5T_COMPOUND: return "compound"
        case H5T_REFERENCE: return "reference"
        case H5T_ENUM: return "enum"
        case H5T_VLEN: return "variable-length sequence"
        case H5T_ARRAY: return "array"
        default: return "unknown type class \(cls.rawValue)"
        }
    }
}

/// A dataset inside an open HDF5 file. Shape and type are read when it is
/// looked up; data is read on demand.
public struct HDF5Dataset: HDF5Object {
    public let file: HDF5File
    /// Absolute HDF5 path, e.g. "/model_weights/dense/dense/kernel:0".
    public let path: String
    /// Dimensions, row-major; [] for a scalar (0-d) dataset. Zero-size
    /// dimensions are allowed.
    public let shape: [Int]
    /// Number of elements: the product of `shape` (1 for scalars).
    public let elementCount: Int
    public let elementType: HDF5ElementType

    /// Opens `path` to read its shape and type. Lock must be held.
    init(file: HDF5File, path: String) throws {
        self.file = file
        self.path = path
        let did = H5Dopen2(file.id, path, mien_H5P_DEFAULT())
        guard did >= 0 else { throw file.libraryError(path, "cannot open dataset") }
        defer { _ = H5Dclose(did) }
        let sid = H5Dget_space(did)
        guard sid >= 0 else { throw file.libraryError(path, "cannot read the dataset's dataspace") }
        defer { _ = H5Sclose(sid) }
        let extent = try file.extent(sid, path)
        shape = extent.dims
        elementCount = extent.count
        let tid = H5Dget_type(did)
        guard tid >= 0 else { throw file.libraryError(path, "cannot read the dataset's type") }
        defer { _ = H5Tclose(tid) }
        elementType = HDF5ElementType(tid)
    }

    /// The last path component, e.g. "kernel:0".
    public var name: String { path.split(separator: "/").last.map(String.init) ?? "" }

    /// All elements, row-major, converted to Float by libhdf5 (float16/32/64
    /// and integer types). Throws for strings, compounds and other types.
    public func readFloats() throws -> [Float] {
        try read(mien_H5T_NATIVE_FLOAT())
    }

    /// All elements, row-major, converted to Double.
    public func readDoubles() throws -> [Double] {
        try read(mien_H5T_NATIVE_DOUBLE())
    }

    private func read<T: BitwiseCopyable & Numeric>(_ memoryType: @autoclosure () -> hid_t) throws -> [T] {
        try HDF5Library.withLock {
            let did = H5Dopen2(file.id, path, mien_H5P_DEFAULT())
            guard did >= 0 else { throw file.libraryError(path, "cannot open dataset") }
            defer { _ = H5Dclose(did) }
            let tid = H5Dget_type(did)
            guard tid >= 0 else { throw file.libraryError(path, "cannot read the dataset's type") }
            defer { _ = H5Tclose(tid) }
            let type = HDF5ElementType(tid)
            guard type.isNumeric else {
                throw file.error(path, "cannot read a \(type) dataset as numbers")
            }
            guard HDF5ElementType.hasStandardLayout(tid) else {
                throw file.error(path, "the dataset's \(type) type has a damaged or non-IEEE layout")
            }
            let sid = H5Dget_space(did)
            guard sid >= 0 else { throw file.libraryError(path, "cannot read the dataset's dataspace") }
            defer { _ = H5Sclose(sid) }
            let count: Int
            count = try file.extent(sid, path).count
            guard count > 0 else { return [] }

            try checkPlausibleSize(did, count: count, storedSize: H5Tget_size(tid), memorySize: MemoryLayout<T>.stride)

            var status: herr_t = -1
            let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                status = H5Dread(did, memoryType(), mien_H5S_ALL(), mien_H5S_ALL(), mien_H5P_DEFAULT(), buffer.baseAddress)
                // On failure leave the array empty; T is trivial, nothing to deinitialize.
                initialized = status >= 0 ? count : 0
            }
            guard status >= 0 else { throw file.libraryError(path, "cannot read dataset") }
            return values
        }
    }

    /// Refuses reads a corrupt header could inflate: for unfiltered data
    /// stored in this file, more bytes than the file has; otherwise more than
    /// the global cap.
    private func checkPlausibleSize(_ did: hid_t, count: Int, storedSize: Int, memorySize: Int) throws {
        let dcpl = H5Dget_create_plist(did)
        if dcpl >= 0 {
            defer { _ = H5Pclose(dcpl) }
            // Compressed data can legitimately expand past the file size, and
            // external or unallocated (fill-value) storage isn't in the file.
            let unfiltered = H5Pget_nfilters(dcpl) == 0
            let inFile = H5Pget_external_count(dcpl) == 0
            let allocated = H5Dget_storage_size(did) > 0
            if unfiltered, inFile, allocated {
                let (storedBytes, overflow) = count.multipliedReportingOverflow(by: storedSize)
                guard !overflow, storedBytes <= file.fileSize else {
                    throw file.error(path, "dataset claims \(count) elements of \(storedSize) bytes, more than the \(file.fileSize)-byte file holds (corrupt file?)")
                }
            }
        }
        _ = H5Eclear2(mien_H5E_DEFAULT())
        let (memoryBytes, overflow) = count.multipliedReportingOverflow(by: memorySize)
        guard !overflow, memoryBytes <= HDF5Library.maxReadBytes else {
            throw file.error(path, "dataset of \(count) elements is too large to read (limit \(HDF5Library.maxReadBytes) bytes; corrupt file?)")
        }
    }
}
