import Foundation

/// An sRGB colour, written as `#RRGGBB`.
public struct RGBColor: Sendable, Hashable, CustomStringConvertible {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// `#RRGGBB` or `RRGGBB`; nil for anything else.
    public init?(hex: String) {
        let digits = hex.hasPrefix("#") ? hex.dropFirst() : Substring(hex)
        guard digits.count == 6, let value = UInt32(digits, radix: 16) else { return nil }
        self.init(red: UInt8(value >> 16 & 0xFF), green: UInt8(value >> 8 & 0xFF), blue: UInt8(value & 0xFF))
    }

    /// `#RRGGBB`, upper case.
    public var hex: String {
        "#" + [red, green, blue].map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }

    public var description: String { hex }

    /// The straight mix: `fraction` 0 gives `self`, 1 gives `other` (clamped to 0...1).
    public func mixed(with other: RGBColor, _ fraction: Double) -> RGBColor {
        let t = fraction.isFinite ? min(1, max(0, fraction)) : 0
        func channel(_ a: UInt8, _ b: UInt8) -> UInt8 {
            UInt8((Double(a) + (Double(b) - Double(a)) * t).rounded())
        }
        return RGBColor(red: channel(red, other.red), green: channel(green, other.green), blue: channel(blue, other.blue))
    }

    /// WCAG relative luminance (0 black ... 1 white), for picking readable text colours.
    public var luminance: Double {
        func linear(_ c: UInt8) -> Double {
            let s = Double(c) / 255
            return s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    }

    public static let white = RGBColor(red: 255, green: 255, blue: 255)
    public static let black = RGBColor(red: 0, green: 0, blue: 0)
}

/// Colour sets of the charts.
public enum Palette {
    /// Okabe & Ito's colour-blind-safe palette, ordered for lines on white: the pale
    /// yellow, hardest to see, comes last.
    public static let okabeIto: [RGBColor] = [
        RGBColor(red: 0x00, green: 0x72, blue: 0xB2),   // blue
        RGBColor(red: 0xD5, green: 0x5E, blue: 0x00),   // vermillion
        RGBColor(red: 0x00, green: 0x9E, blue: 0x73),   // bluish green
        RGBColor(red: 0xCC, green: 0x79, blue: 0xA7),   // reddish purple
        RGBColor(red: 0xE6, green: 0x9F, blue: 0x00),   // orange
        RGBColor(red: 0x56, green: 0xB4, blue: 0xE9),   // sky blue
        RGBColor(red: 0x00, green: 0x00, blue: 0x00),   // black
        RGBColor(red: 0xF0, green: 0xE4, blue: 0x42),   // yellow
    ]

    /// The `index`th series colour, cycling through `okabeIto`.
    public static func series(_ index: Int) -> RGBColor {
        okabeIto[((index % okabeIto.count) + okabeIto.count) % okabeIto.count]
    }

    /// The dark end of the heat map's white → blue ramp (ColorBrewer "Blues").
    public static let heatMapDark = RGBColor(red: 0x08, green: 0x51, blue: 0x9C)

    /// Greys for axes, grid lines and secondary text.
    static let axis = "#444"
    static let grid = "#E6E6E6"
    static let secondaryText = "#666"
    static let reference = "#888888"
}
