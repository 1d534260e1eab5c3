/// Estimated text widths. SVG has no text measurement without a renderer, so layout uses
/// per-character advances of a typical sans-serif font, erring wide: a label estimated
/// too wide only wastes a little space, one estimated too narrow overlaps its neighbour.
enum TextMetrics {
    /// The estimated width of `text` in px at font size `size`.
    static func width(_ text: String, size: Double, bold: Bool = false) -> Double {
        var ems = 0.0
        for scalar in text.unicodeScalars { ems += advance(scalar) }
        return ems * size * (bold ? 1.15 : 1)
    }

    /// The widest of `texts`.
    static func maxWidth(_ texts: [String], size: Double, bold: Bool = false) -> Double {
        texts.map { width($0, size: size, bold: bold) }.max() ?? 0
    }

    /// `text` shortened with "…" to fit `maxWidth`, and whether it was shortened (then the
    /// caller adds the full text as a tooltip). Cuts between characters, never inside one.
    /// `middle` keeps both ends ("a long cl…surprise"): names that share a prefix, like
    /// class names, stay distinguishable.
    static func truncate(_ text: String, toWidth maxWidth: Double, size: Double, bold: Bool = false,
                         middle: Bool = false) -> (text: String, truncated: Bool) {
        func measure(_ s: String) -> Double { width(s, size: size, bold: bold) }
        if measure(text) <= maxWidth { return (text, false) }
        let budget = maxWidth - measure("…")
        let characters = Array(text)
        var head = ""
        for character in characters {
            if measure(head + String(character)) > (middle ? budget / 2 : budget) { break }
            head.append(character)
        }
        var tail = ""
        if middle {
            for character in characters.dropFirst(head.count).reversed() {
                if measure(head) + measure(String(character) + tail) > budget { break }
                tail.insert(character, at: tail.startIndex)
            }
        }
        while head.last?.isWhitespace == true { head.removeLast() }
        while tail.first?.isWhitespace == true { tail.removeFirst() }
        return (head + "…" + tail, true)
    }

    /// Advance widths in ems, rounded up from DejaVu Sans (the common Linux fallback and
    /// wider than Helvetica or Arial, so other fonts fit too).
    private static func advance(_ scalar: Unicode.Scalar) -> Double {
        switch scalar {
        case "i", "j", "l", "I", "!", ".", ",", ":", ";", "'", "|", "\u{2019}": return 0.3
        case " ", "f", "t", "r", "(", ")", "[", "]", "-", "/", "\"": return 0.4
        case "m", "w", "M", "W", "@", "%", "…": return 1.0
        case "A"..."Z", "&", "#", "~": return 0.72
        case "0"..."9", "$", "_", "?", "+", "=", "<", ">", "*": return 0.64
        case "a"..."z": return 0.6
        case "–": return 0.5
        default:
            if scalar.properties.generalCategory == .nonspacingMark { return 0 }
            // CJK and other wide scripts take a full em; other letters about 0.65.
            return scalar.value >= 0x2E80 ? 1.0 : 0.65
        }
    }
}
