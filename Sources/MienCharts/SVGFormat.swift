/// How values are written into SVG text: escaping and compact numbers.
public enum SVGFormat {
    /// `value` escaped for XML text and double- or single-quoted attribute values.
    /// Characters XML 1.0 forbids even as entities (control characters other than tab,
    /// newline and carriage return, U+FFFE, U+FFFF) are dropped, so any class name or
    /// series name still gives a well-formed document.
    public static func escape(_ value: String) -> String {
        var output = ""
        output.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&apos;"
            case "\t", "\n", "\r": output.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
                output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    /// `value` with at most two decimals and no trailing zeros ("12", "3.5", "0.25"):
    /// coordinates finer than 1/100 px are invisible and only bloat the file. Never
    /// writes "-0"; a non-finite value (a bug upstream) is written as "0" rather than
    /// "nan", which would make the whole picture invalid.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let hundredths = (abs(value) * 100).rounded()
        if hundredths == 0 { return "0" }
        let sign = value < 0 ? "-" : ""
        guard hundredths < 1e17 else {
            // Beyond Int64; no chart coordinate is this large, but stay finite and valid.
            return sign + String(Int64(min(abs(value), 9e18)))
        }
        let cents = Int64(hundredths)
        let whole = cents / 100
        let fraction = cents % 100
        if fraction == 0 { return sign + String(whole) }
        if fraction % 10 == 0 { return sign + "\(whole).\(fraction / 10)" }
        return sign + "\(whole)." + (fraction < 10 ? "0" : "") + String(fraction)
    }

    /// A list of points as `points`/`d` coordinates: "x,y x,y ...".
    public static func points(_ points: [(x: Double, y: Double)]) -> String {
        points.map { number($0.x) + "," + number($0.y) }.joined(separator: " ")
    }
}
