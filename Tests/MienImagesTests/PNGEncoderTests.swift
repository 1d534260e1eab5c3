import MienImages
import MienTestSupport
import XCTest

/// `PNGEncoder`: what it writes decodes (with `ImageDecoder`) to the same pixels; invalid
/// images throw `ImageError`, never trap.
final class PNGEncoderTests: XCTestCase {
    /// Deterministic bytes covering 0...255 (a gradient, noise, and the two extremes).
    private func pixels(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            switch i % 4 {
            case 0: return UInt8(truncatingIfNeeded: i)
            case 1: return UInt8(truncatingIfNeeded: state >> 56)
            case 2: return i % 8 == 2 ? 0 : 255
            default: return UInt8(truncatingIfNeeded: (i / 7) &* 37)
            }
        }
    }

    private func assertRoundTrip(_ image: Image, file: StaticString = #filePath, line: UInt = #line) throws {
        let png = try PNGEncoder.encode(image)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], file: file, line: line)
        XCTAssertEqual(Array(png.suffix(8)), [0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82], "IEND", file: file, line: line)
        let decoded = try ImageDecoder.decode(png)
        XCTAssertEqual(decoded, image, "\(image.width)x\(image.height)x\(image.channels)", file: file, line: line)
        XCTAssertEqual(try PNGEncoder.encode(image), png, "deterministic", file: file, line: line)
    }

    func testGrayFaceRoundTrips() throws {
        try assertRoundTrip(Image(width: 48, height: 48, channels: 1, pixels: pixels(48 * 48, seed: 1)))
        try assertRoundTrip(Image(width: 48, height: 48, channels: 1, pixels: [UInt8](repeating: 0, count: 48 * 48)))
        try assertRoundTrip(Image(width: 48, height: 48, channels: 1, pixels: [UInt8](repeating: 255, count: 48 * 48)))
    }

    func testRGBRoundTrips() throws {
        try assertRoundTrip(Image(width: 37, height: 23, channels: 3, pixels: pixels(37 * 23 * 3, seed: 2)))
        try assertRoundTrip(Image(width: 48, height: 48, channels: 3, pixels: pixels(48 * 48 * 3, seed: 3)))
    }

    func testOnePixelAndOneRowRoundTrip() throws {
        try assertRoundTrip(Image(width: 1, height: 1, channels: 1, pixels: [7]))
        try assertRoundTrip(Image(width: 1, height: 1, channels: 3, pixels: [255, 0, 128]))
        try assertRoundTrip(Image(width: 300, height: 1, channels: 1, pixels: pixels(300, seed: 4)))
        try assertRoundTrip(Image(width: 1, height: 300, channels: 3, pixels: pixels(900, seed: 5)))
    }

    /// A gray image of a real face compresses: the data URI of a 48×48 face stays small.
    func testFaceFixtureRoundTripsAndCompresses() throws {
        let face = try ImageDecoder.decode(contentsOf: Fixtures.path("faces/folder/train/happy/face.png"), channels: 1)
        XCTAssertEqual([face.width, face.height], [48, 48])
        try assertRoundTrip(face)
        XCTAssertLessThan(try PNGEncoder.encode(face).count, 48 * 48)
    }

    func testInvalidImagesThrow() {
        func encodingError(_ image: Image, file: StaticString = #filePath, line: UInt = #line) -> ImageError? {
            caught(ImageError.self, file: file, line: line) { try PNGEncoder.encode(image) }
        }
        func assertThrows(_ image: Image, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            guard let error = encodingError(image, file: file, line: line) else { return }
            XCTAssertEqual(error.path, "<memory>", file: file, line: line)
            XCTAssertTrue(error.message.contains(fragment), "'\(error)' lacks '\(fragment)'", file: file, line: line)
        }
        assertThrows(Image(width: 0, height: 0, channels: 1, pixels: []), "size 0x0")
        assertThrows(Image(width: 0, height: 5, channels: 3, pixels: []), "size 0x5")
        assertThrows(Image(width: 4, height: 0, channels: 1, pixels: []), "size 4x0")

        var image = Image(width: 4, height: 4, channels: 1, pixels: pixels(16, seed: 6))
        image.pixels.removeLast()
        assertThrows(image, "15 pixel bytes for 4x4x1")
        image.pixels = pixels(48, seed: 7)
        assertThrows(image, "48 pixel bytes for 4x4x1")       // RGB bytes, gray header
        image.channels = 4
        image.pixels = pixels(64, seed: 8)
        assertThrows(image, "4 channels")
        image.channels = 0
        assertThrows(image, "0 channels")
        image.channels = 1
        image.width = -4
        image.height = -4
        image.pixels = pixels(16, seed: 9)
        assertThrows(image, "size -4x-4")
        image.width = Int.max
        image.height = 2
        assertThrows(image, "pixel bytes for \(Int.max)x2x1")  // the product overflows: no trap
    }

    /// libpng's own error (a side over PNG_USER_WIDTH_MAX) arrives as an ImageError.
    func testLibpngErrorsThrow() throws {
        let wide = Image(width: 1_000_001, height: 1, channels: 1, pixels: [UInt8](repeating: 9, count: 1_000_001))
        let error = caught(ImageError.self) { try PNGEncoder.encode(wide) }
        XCTAssertEqual(error?.path, "<memory>")
        XCTAssertTrue(error?.message.hasPrefix("cannot encode PNG: ") ?? false, "\(String(describing: error))")
        // The largest side libpng writes by default still works.
        let widest = Image(width: 1_000_000, height: 1, channels: 1, pixels: [UInt8](repeating: 9, count: 1_000_000))
        XCTAssertGreaterThan(try PNGEncoder.encode(widest).count, 8)
    }
}
