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
        // The decoding below tries each kind of value in turn, so a subtree it cannot take
        // is decoded again at every level above it: exponential in the depth (a 30 KB file
        // of nested arrays took 48 s). Configs nest a few dozen levels; refuse deeper ones.
        guard JSON.nestingDepth(data) <= JSON.maxDepth else {
            throw ParseError(description: "JSON nested deeper than \(JSON.maxDepth) levels")
        }
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        self = try decoder.decode(JSON.self, from: data)
    }

    /// The deepest nesting of arrays and objects accepted (Foundation's parser allows 512).
    public static let maxDepth = 512

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The deepest nesting of `[` and `{` outside strings.
    static func nestingDepth(_ data: Data) -> Int {
        var depth = 0, deepest = 0
        var inString = false, escaped = false
        for byte in data {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1; deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    private init(foundation object: Any) {
        // Containers before NSNumber: casting a Swift array or dictionary to NSNumber bridges
        // the whole subtree to Foundation first, at every level (9 s for 60 KB of nesting).
        switch object {
        case let s as String: self = .string(s)
        case let a as [Any]: self = .array(a.map(JSON.init(foundation:)))
        case let o as [String: Any]: self = .object(o.mapValues(JSON.init(foundation:)))
        case let n as NSNumber:
            // Booleans come back as NSNumber too; their Objective-C type is "c".
            self = String(cString: n.objCType) == "c" ? .bool(n.boolValue) : .number(n.doubleValue)
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
    /// Asks for the container of each kind once: an array or object is decoded only by its
    /// own branch, so a subtree is never decoded twice (trying `[JSON]` and then
    /// `[String: JSON]` on every level was exponential in the depth on a failure inside).
    public init(from decoder: Decoder) throws {
        if var list = try? decoder.unkeyedContainer() {
            var items: [JSON] = []
            while !list.isAtEnd { items.append(try list.decode(JSON.self)) }
            self = .array(items)
        } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var items: [String: JSON] = [:]
            for key in object.allKeys { items[key.stringValue] = try object.decode(JSON.self, forKey: key) }
            self = .object(items)
        } else {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let n = try? c.decode(Double.self) { self = .number(n) }
            else { self = .string(try c.decode(String.self)) }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
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
