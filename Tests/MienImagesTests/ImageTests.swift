import MienImages
import XCTest

final class ImageTests: XCTestCase {
    /// A region is its rows' pixels; the whole image is itself.
    func testRegion() {
        let image = Image(width: 4, height: 3, channels: 3, pixels: (0..<36).map(UInt8.init))
        let part = image.region(x: 1, y: 1, width: 2, height: 2)
        XCTAssertEqual([part.width, part.height, part.channels], [2, 2, 3])
        XCTAssertEqual(part.pixels, [15, 16, 17, 18, 19, 20, 27, 28, 29, 30, 31, 32])
        XCTAssertEqual(image.region(x: 0, y: 0, width: 4, height: 3), image)
        XCTAssertEqual(image.region(x: 3, y: 2, width: 1, height: 1).pixels, [33, 34, 35])
        XCTAssertEqual(image.region(x: 2, y: 1, width: 0, height: 2).pixels, [])
    }
}
