/// A problem with a safetensors file. Every error names the file, and the tensor
/// when one is to blame, so a message is useful on its own in a log.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The file could not be opened, mapped, written or renamed (the OS said no).
        case io
        /// The file ends before its header or its data does.
        case truncated
        /// The header length or the JSON header is malformed.
        case header
        /// A dtype that is unknown, or that this reader cannot turn into `Float`.
        case dtype
        /// `data_offsets` that are reversed, overlap or leave gaps.
        case offsets
        /// A byte count that overflows or does not match shape × dtype size.
        case byteCount
        /// `tensor(_:)` was asked for a name the file does not have.
        case missingTensor
    }

    public var kind: Kind
    public var path: String
    public var tensor: String?
    public var message: String

    public init(_ kind: Kind, path: String, tensor: String? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.tensor = tensor
        self.message = message
    }

    /// `PATH: tensor 'x': message`, or `PATH: message` when no tensor is involved.
    public var description: String {
        if let tensor { return "\(path): tensor '\(tensor)': \(message)" }
        return "\(path): \(message)"
    }
}

/// The element types of the safetensors format that have a whole number of bytes.
///
/// The sub-byte types of newer writers (`F4`, `F6_E2M3`, `F6_E3M2`) are rejected when a
/// file is opened, with a `.dtype` error. `C64` (complex) is accepted on open, so the other
/// tensors of such a file stay readable, but `tensor(_:)` refuses to turn it into `Float`.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case F64, F32, F16, BF16
    case I64, I32, I16, I8
    case U64, U32, U16, U8
    case BOOL
    /// 8-bit floats as in PyTorch: `F8_E4M3` is `float8_e4m3fn` (no infinities),
    /// the FNUZ variants have no negative zero and NaN = 0x80, `F8_E8M0` is `float8_e8m0fnu`
    /// (a power of two; 0xFF is NaN).
    case F8_E5M2, F8_E4M3, F8_E5M2FNUZ, F8_E4M3FNUZ, F8_E8M0
    /// Complex64: two F32 per element. Valid in a file, but not convertible to `Float`.
    case C64

    public var byteSize: Int {
        switch self {
        case .F64, .I64, .U64, .C64: return 8
        case .F32, .I32, .U32: return 4
        case .F16, .BF16, .I16, .U16: return 2
        case .I8, .U8, .BOOL, .F8_E5M2, .F8_E4M3, .F8_E5M2FNUZ, .F8_E4M3FNUZ, .F8_E8M0: return 1
        }
    }

    /// Names the reference implementation knows but this reader does not support
    /// (several elements per byte), so the error can say so instead of "unknown".
    static let subByteNames: Set<String> = ["F4", "F6_E2M3", "F6_E3M2"]
}

/// Where one tensor lives in a safetensors file.
public struct TensorInfo: Sendable, Equatable {
    public var name: String
    public var dtype: SafeTensorsDType
    public var shape: [Int]
    /// `data_offsets` as written in the header: byte offsets relative to the start of the
    /// data buffer (the byte after the JSON header), not to the start of the file.
    public var range: Range<Int>

    public init(name: String, dtype: SafeTensorsDType, shape: [Int], range: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.range = range
    }

    /// The number of elements (1 for a scalar, shape `[]`). Validated on open not to overflow.
    public var count: Int { shape.reduce(1, *) }
}
