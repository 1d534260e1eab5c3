import MienNN

/// Layers written as Keras constructor calls, for a command line:
///
///     AveragePooling2D(4, strides=3), Flatten, Dense(256, relu), Dropout(0.3)
///
/// Arguments are positional in the Keras constructor's order or `key=value` with Keras's
/// own keys; values are numbers, names (`relu`, `same`), quoted strings, `None`, `True`,
/// `False` or tuples `(2, 2)`. Each call becomes a Keras layer config, so the layers are
/// built by the same builders as an imported model's.
public struct LayerSpec: Equatable, Sendable {
    public var className: String
    public var config: [String: JSON]

    public init(className: String, config: [String: JSON] = [:]) {
        self.className = className
        self.config = config
    }

    /// The classes a spec may name, with their positional arguments in Keras's order.
    public static let positional: [String: [String]] = [
        "Dense": ["units", "activation"],
        "Dropout": ["rate"],
        "Activation": ["activation"],
        "AveragePooling2D": ["pool_size", "strides", "padding"],
        "MaxPooling2D": ["pool_size", "strides", "padding"],
        "GlobalAveragePooling2D": ["data_format", "keepdims"],
        "GlobalMaxPooling2D": ["data_format", "keepdims"],
        "Flatten": ["data_format"],
    ]

    /// Parses a comma-separated list of layer calls; the message of the error names the
    /// offending text.
    public static func parse(_ text: String) throws -> [LayerSpec] {
        var parser = Parser(text: Array(text.unicodeScalars))
        var specs: [LayerSpec] = []
        parser.skipSpaces()
        if parser.atEnd { return [] }
        repeat {
            specs.append(try parser.layer())
        } while parser.comma()
        guard parser.atEnd else { throw parser.fail("expected ',' between layers") }
        return specs
    }

    /// The layers as a Keras `Sequential` config on an input of `inputShape` (batch first),
    /// named `<prefix><class in snake case>[_n]` unless a `name=` was given.
    public static func sequentialConfig(_ specs: [LayerSpec], inputShape: Shape, name: String, prefix: String) -> JSON {
        var counts: [String: Int] = [:]
        var layers: [JSON] = [["class_name": "InputLayer",
                               "config": ["batch_shape": .array(inputShape.map { $0.map { JSON.number(Double($0)) } ?? .null }),
                                          "name": .string(prefix + "input")]]]
        for spec in specs {
            var config = spec.config
            if config["name"] == nil {
                let base = prefix + snakeCase(spec.className)
                let n = counts[base, default: 0]
                counts[base] = n + 1
                config["name"] = .string(n == 0 ? base : "\(base)_\(n)")
            }
            layers.append(["class_name": .string(spec.className), "config": .object(config)])
        }
        return ["class_name": "Sequential", "config": ["name": .string(name), "layers": .array(layers)]]
    }

    /// Keras's default layer names: `GlobalAveragePooling2D` → `global_average_pooling2d`.
    static func snakeCase(_ name: String) -> String {
        let chars = Array(name)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase, i > 0, !chars[i - 1].isUppercase, !chars[i - 1].isNumber { out += "_" }
            out += c.lowercased()
        }
        return out
    }

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    struct Parser {
        let text: [Unicode.Scalar]
        var position = 0
        /// How many tuples `value` is inside: bounded, since each level is a recursion (a
        /// `--head` of 4,500 nested parentheses overflowed the stack; found by fuzzing).
        var depth = 0
        static let maxDepth = 32

        var atEnd: Bool { position >= text.count }

        func fail(_ message: String) -> ParseError {
            let rest = String(String.UnicodeScalarView(text[min(position, text.count)...]))
            return ParseError(description: message + (rest.isEmpty ? " at the end" : " at '\(rest)'"))
        }

        mutating func skipSpaces() {
            while !atEnd, text[position].properties.isWhitespace { position += 1 }
        }

        mutating func take(_ c: Unicode.Scalar) -> Bool {
            skipSpaces()
            guard !atEnd, text[position] == c else { return false }
            position += 1
            return true
        }

        mutating func comma() -> Bool { take(",") }

        mutating func identifier() -> String? {
            skipSpaces()
            let start = position
            while !atEnd, text[position] == "_" || text[position].properties.isAlphabetic
                    || (position > start && text[position].properties.numericType != nil) {
                position += 1
            }
            return position > start ? String(String.UnicodeScalarView(text[start..<position])) : nil
        }

        mutating func layer() throws -> LayerSpec {
            guard let className = identifier() else { throw fail("expected a layer such as Dense(256, relu)") }
            guard let names = LayerSpec.positional[className] else {
                throw fail("'\(className)' is not a layer a head can use (\(LayerSpec.positional.keys.sorted().joined(separator: ", ")))")
            }
            var config: [String: JSON] = [:]
            if take("(") {
                var index = 0
                if !take(")") {
                    repeat {
                        let mark = position
                        var key: String?
                        if let name = identifier(), take("=") { key = name } else { position = mark }
                        let value = try self.value()
                        if key == nil {
                            guard index < names.count else {
                                throw fail("\(className) takes at most \(names.count) positional argument(s) (\(names.joined(separator: ", ")))")
                            }
                            index += 1
                        }
                        let name = key ?? names[index - 1]
                        guard config[name] == nil else {
                            throw fail("\(className) got argument '\(name)' twice")
                        }
                        if name == "name" {
                            // Weights are stored under `layer/weight`: a '/' could not be read back.
                            guard let text = value.string, !text.isEmpty, !text.contains("/") else {
                                throw fail("\(className)'s name must be a non-empty string without '/'")
                            }
                        }
                        config[name] = value
                    } while comma()
                    guard take(")") else { throw fail("expected ')'") }
                }
            }
            return LayerSpec(className: className, config: config)
        }

        mutating func value() throws -> JSON {
            skipSpaces()
            guard !atEnd else { throw fail("expected a value") }
            let c = text[position]
            if c == "(" || c == "[" {
                guard depth < Parser.maxDepth else { throw fail("values nested deeper than \(Parser.maxDepth) levels") }
                depth += 1
                defer { depth -= 1 }
                position += 1
                let close: Unicode.Scalar = c == "(" ? ")" : "]"
                var items: [JSON] = []
                if !take(close) {
                    repeat { items.append(try value()) } while comma()
                    guard take(close) else { throw fail("expected '\(close)'") }
                }
                return .array(items)
            }
            if c == "'" || c == "\"" {
                position += 1
                let start = position
                while !atEnd, text[position] != c { position += 1 }
                guard !atEnd else { throw fail("unterminated string") }
                defer { position += 1 }
                return .string(String(String.UnicodeScalarView(text[start..<position])))
            }
            if c == "-" || c == "." || c.properties.numericType != nil {
                let start = position
                position += 1
                while !atEnd, ".eE+-".unicodeScalars.contains(text[position]) || text[position].properties.numericType != nil {
                    position += 1
                }
                let literal = String(String.UnicodeScalarView(text[start..<position]))
                guard let number = Double(literal), number.isFinite else {
                    position = start
                    throw fail("'\(literal)' is not a number")
                }
                return .number(number)
            }
            guard let word = identifier() else { throw fail("expected a value") }
            switch word {
            case "None": return .null
            case "True", "true": return .bool(true)
            case "False", "false": return .bool(false)
            default: return .string(word)
            }
        }
    }
}
