/// Boxes and short labels drawn on an image (`mien predict --annotate`, the server's
/// pictures): rectangles and text in a 5×7 pixel font scaled by whole pixels, enough for
/// class names and percentages without a font library.
extension Image {
    /// A colour; gray images take its luma.
    public struct Color: Sendable, Equatable {
        public var r, g, b: UInt8
        public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
            self.r = r
            self.g = g
            self.b = b
        }
        public static let white = Color(255, 255, 255)
    }

    /// Fills the rectangle `[x, x + width) × [y, y + height)`, clipped to the image.
    public mutating func fill(x: Int, y: Int, width: Int, height: Int, _ color: Color) {
        let (x0, y0) = (max(0, x), max(0, y))
        let (x1, y1) = (min(self.width, x &+ max(0, width)), min(self.height, y &+ max(0, height)))
        guard x0 < x1, y0 < y1 else { return }
        let values = channels == 1 ? [Image.luminance(color.r, color.g, color.b)] : [color.r, color.g, color.b]
        let c = channels
        pixels.withUnsafeMutableBufferPointer { p in
            for row in y0..<y1 {
                for col in x0..<x1 {
                    for k in 0..<c { p[(row * self.width + col) * c + k] = values[k] }
                }
            }
        }
    }

    /// The outline of a rectangle, `thickness` pixels wide, inside its bounds.
    public mutating func stroke(x: Int, y: Int, width: Int, height: Int, thickness: Int, _ color: Color) {
        let t = max(1, min(thickness, max(1, min(width, height) / 2)))
        fill(x: x, y: y, width: width, height: t, color)
        fill(x: x, y: y + height - t, width: width, height: t, color)
        fill(x: x, y: y, width: t, height: height, color)
        fill(x: x + width - t, y: y, width: t, height: height, color)
    }

    /// The size of `text` drawn at `scale` (each font pixel a `scale`×`scale` square).
    public static func textSize(_ text: String, scale: Int) -> (width: Int, height: Int) {
        let s = max(1, scale)
        return (max(0, text.count * 6 - 1) * s, 7 * s)
    }

    /// Draws `text` (upper-cased; letters, digits, space and `%.-:_`, others as `?`) with its
    /// top-left corner at (x, y), clipped to the image.
    public mutating func draw(_ text: String, x: Int, y: Int, scale: Int, _ color: Color) {
        let s = max(1, scale)
        for (i, character) in text.uppercased().enumerated() {
            let rows = Self.glyphs[character] ?? Self.glyphs["?"]!
            for (r, bits) in rows.enumerated() {
                for col in 0..<5 where bits & (0b10000 >> col) != 0 {
                    fill(x: x + (i * 6 + col) * s, y: y + r * s, width: s, height: s, color)
                }
            }
        }
    }

    /// The classic 5×7 font: seven rows per glyph, bit 4 the leftmost column.
    static let glyphs: [Character: [UInt8]] = [
        "A": [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001],
        "B": [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110],
        "C": [0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110],
        "D": [0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110],
        "E": [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111],
        "F": [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000],
        "G": [0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111],
        "H": [0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001],
        "I": [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        "J": [0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100],
        "K": [0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001],
        "L": [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111],
        "M": [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001],
        "N": [0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001],
        "O": [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
        "P": [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000],
        "Q": [0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101],
        "R": [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001],
        "S": [0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110],
        "T": [0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100],
        "U": [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
        "V": [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100],
        "W": [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010],
        "X": [0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001],
        "Y": [0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100],
        "Z": [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111],
        "0": [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110],
        "1": [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        "2": [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111],
        "3": [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110],
        "4": [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010],
        "5": [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110],
        "6": [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110],
        "7": [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000],
        "8": [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110],
        "9": [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100],
        "%": [0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011],
        ".": [0, 0, 0, 0, 0, 0b01100, 0b01100],
        "-": [0, 0, 0, 0b11111, 0, 0, 0],
        ":": [0, 0b01100, 0b01100, 0, 0b01100, 0b01100, 0],
        "_": [0, 0, 0, 0, 0, 0, 0b11111],
        " ": [0, 0, 0, 0, 0, 0, 0],
        "?": [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0, 0b00100],
    ]
}
