import MienImages
import XCTest

/// Boxes and labels on an image (`mien predict --annotate`): clipped to the image, in the
/// colour asked (its luma on gray), text in the 5×7 font.
final class DrawingTests: XCTestCase {
    func testFillAndStrokeClipToTheImage() {
        var image = Image(width: 10, height: 8, channels: 3, pixels: [UInt8](repeating: 0, count: 240))
        image.fill(x: -5, y: 6, width: 100, height: 100, Image.Color(255, 0, 0))
        XCTAssertEqual(Array(image.pixels[(6 * 10) * 3..<(6 * 10) * 3 + 3]), [255, 0, 0])
        XCTAssertEqual(image.pixels[(5 * 10) * 3], 0, "row above untouched")
        image.stroke(x: 2, y: 1, width: 5, height: 4, thickness: 1, .white)
        XCTAssertEqual(image.pixels[(1 * 10 + 2) * 3], 255, "top-left corner")
        XCTAssertEqual(image.pixels[(2 * 10 + 4) * 3], 0, "inside stays")
        image.fill(x: Int.max - 1, y: 0, width: Int.max, height: 1, .white)  // no overflow, nothing drawn
        var gray = Image(width: 4, height: 4, channels: 1, pixels: [UInt8](repeating: 0, count: 16))
        gray.fill(x: 0, y: 0, width: 1, height: 1, Image.Color(0, 255, 0))
        XCTAssertEqual(gray.pixels[0], 150, "luma of pure green (Pillow's L)")
    }

    func testTextIsDrawnInTheFont() {
        XCTAssertEqual(Image.textSize("HAPPY 9%", scale: 2).width, (8 * 6 - 1) * 2)
        var image = Image(width: 40, height: 10, channels: 1, pixels: [UInt8](repeating: 0, count: 400))
        image.draw("i", x: 1, y: 1, scale: 1, .white)  // upper-cased: I's top bar is columns 1–3
        XCTAssertEqual((0..<7).map { image.pixels[1 * 40 + 1 + $0] }, [0, 255, 255, 255, 0, 0, 0])
        XCTAssertEqual(image.pixels[4 * 40 + 3], 255, "I's stem")
        image.draw("~", x: 10, y: 1, scale: 1, .white)  // not in the font: drawn as '?'
        XCTAssertEqual(image.pixels[7 * 40 + 12], 255, "the question mark's dot")
    }
}
