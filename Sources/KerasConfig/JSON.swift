import Foundation

/// A parsed JSON value: Keras's `model_config` is free-form, so it is read dynamically.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    /// Parses text. Foundation's JSONSerialization is several times faster than decoding
    /// the enum through `Decodable`, but rejects the `NaN` and `Infinity` Python's
    /// `json.dumps` may write; for those the JSON5 decoder takes over.
    public init(parsing text: String) throws {
        let data = Data(text.utf8)
        if let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) {
            self = JSON(foundation: object)
            return
        }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        self = try decoder.decode(JSON.self, from: data)
    }

    private init(foundation object: Any) {
        switch object {
        case let s as String: self = .string(s)
        case let n as NSNumber:
            // Booleans come back as NSNumber too; their Objective-C type is "c".
            self = String(cString: n.objCType) == "c" ? .bool(n.boolValue) : .number(n.doubleValue)
        case let a as [Any]: self = .array(a.map(JSON.init(foundation:)))
        case let o as [String: Any]: self = .object(o.mapValues(JSON.init(foundation:)))
        default: self = .null
        }
    }

    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var double: Double? { if case .number(let n) = self { return n }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [JSON]? { if case .array(let a) = self { return a }; return nil }
    public var object: [String: JSON]? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { self == .null }

    /// An integer value, if this is a number with no fractional part.
    public var int: Int? {
        guard let d = double, d.rounded() == d, abs(d) < 1e15 else { return nil }
        return Int(d)
    }
}

extension JSON: Decodable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSON].self)) }
    }
}

extension JSON: Encodable {
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Compact JSON text with sorted keys, so the same model always gives the same bytes.
    public var text: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // A JSON value built from finite numbers always encodes.
        return String(decoding: (try? encoder.encode(self)) ?? Data("null".utf8), as: UTF8.self)
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
                ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
                ExpressibleByNilLiteral {
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
    public init(nilLiteral: ()) { self = .null }

    /// A float as the shortest decimal that reads back to it (0.001, not 0.0010000000474974513).
    public init(_ value: Float) { self = .number(Double("\(value)") ?? Double(value)) }
    public init(_ value: Int) { self = .number(Double(value)) }
    public init(_ values: [Int]) { self = .array(values.map { JSON($0) }) }
    public init(_ values: [Float]) { self = .array(values.map { JSON($0) }) }
    public init(_ pair: (Int, Int)) { self = .array([JSON(pair.0), JSON(pair.1)]) }
}
