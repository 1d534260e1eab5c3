import Foundation
import MienImages
import MienTestSupport
import XCTest

/// Fixtures come from tools/make_image_fixtures.py (see Tests/Fixtures/README.md, "images/").
private func fixture(_ name: String) -> String {
    Fixtures.path("images/\(name)")
}

private func bytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: fixture(name))))
}

/// `expected.json`: for each good image, its size and own channel count.
private struct Expected: Decodable {
    struct Entry: Decodable {
        var width: Int
        var height: Int
        var channels: Int
        var pillow_mode: String
    }
    var pillow_version: String
    var images: [String: Entry]

    static func load() throws -> Expected {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture("expected.json")))
        return try JSONDecoder().decode(Expected.self, from: data)
    }
}

private func imageError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line) -> ImageError? {
    caught(ImageError.self, file: file, line: line, body)
}

extension ImageError: PathMessageError {}


/// A small deterministic generator for the mutation test.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

final class ImageDecoderTests: XCTestCase {
    // MARK: - Pixels equal Pillow's

    func testFixtureListIsComplete() throws {
        let expected = try Expected.load()
        XCTAssertEqual(expected.pillow_version, "13.0.0")
        XCTAssertEqual(expected.images.count, 26)
        for name in ["face_10019449.jpg", "color_420.jpg", "color_422_odd.jpg", "color_444.jpg", "progressive.jpg",
                     "cmyk.jpg", "gray_odd.jpg", "gray.png", "rgb.png", "rgba.png", "palette.png", "gray16.png",
                     "rgb16.png", "gray_alpha.png", "gray_alpha16.png", "palette4_trns.png", "bilevel.png",
                     "gray2bit.png", "interlaced.png", "interlaced16.png", "gamma.png", "gray_trns.png",
                     "damaged_scan.jpg", "stray_bytes.jpg"] {
            XCTAssertNotNil(expected.images[name], name)
        }
    }

    /// Every good fixture decoded to 1 and to 3 channels is byte-identical to Pillow's
    /// `convert("L")` / `convert("RGB")`, and `channels: nil` gives the file's own.
    func testEveryFixtureEqualsPillow() throws {
        let expected = try Expected.load()
        XCTAssertFalse(expected.images.isEmpty)
        for (name, entry) in expected.images.sorted(by: { $0.key < $1.key }) {
            let gray = try ImageDecoder.decode(contentsOf: fixture(name), channels: 1)
            let rgb = try ImageDecoder.decode(contentsOf: fixture(name), channels: 3)
            let own = try ImageDecoder.decode(contentsOf: fixture(name))
            let pillowGray = try bytes(name + ".L.raw")
            let pillowRGB = try bytes(name + ".RGB.raw")

            XCTAssertEqual([gray.width, gray.height, gray.channels], [entry.width, entry.height, 1], name)
            XCTAssertEqual([rgb.width, rgb.height, rgb.channels], [entry.width, entry.height, 3], name)
            XCTAssertEqual([own.width, own.height, own.channels], [entry.width, entry.height, entry.channels], name)
            assertSamePixels(gray.pixels, pillowGray, "\(name) L")
            assertSamePixels(rgb.pixels, pillowRGB, "\(name) RGB")
            assertSamePixels(own.pixels, entry.channels == 1 ? pillowGray : pillowRGB, "\(name) own")
        }
    }

    private func assertSamePixels(_ ours: [UInt8], _ pillow: [UInt8], _ what: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        guard ours.count == pillow.count else {
            return XCTFail("\(what): \(ours.count) bytes, Pillow has \(pillow.count)", file: file, line: line)
        }
        var differing = 0, maxDiff = 0
        for (a, b) in zip(ours, pillow) where a != b {
            differing += 1
            maxDiff = max(maxDiff, abs(Int(a) - Int(b)))
        }
        XCTAssertEqual(differing, 0, "\(what): \(differing) bytes differ from Pillow, max |diff| \(maxDiff)",
                       file: file, line: line)
    }

    func testFERFacesAreGray48x48() throws {
        for name in ["face_10019449.jpg", "face_10046809.jpg", "face_10066226.jpg"] {
            let face = try ImageDecoder.decode(contentsOf: fixture(name))
            XCTAssertEqual([face.width, face.height, face.channels], [48, 48, 1], name)
            XCTAssertEqual(face.rgb().grayscale(), face, name)
        }
    }

    func testMemoryAndFileAgree() throws {
        for name in ["color_420.jpg", "palette.png", "gray16.png"] {
            for channels in [nil, 1, 3] as [Int?] {
                XCTAssertEqual(try ImageDecoder.decode(try bytes(name), channels: channels),
                               try ImageDecoder.decode(contentsOf: fixture(name), channels: channels), name)
            }
        }
    }

    /// The format comes from the signature: a PNG named .jpg decodes as the PNG it is.
    func testSignatureNotExtension() throws {
        for channels in [nil, 1, 3] as [Int?] {
            XCTAssertEqual(try ImageDecoder.decode(contentsOf: fixture("png_named.jpg"), channels: channels),
                           try ImageDecoder.decode(contentsOf: fixture("gray.png"), channels: channels))
        }
    }

    // MARK: - Conversions

    func testGrayscaleIsPillowsFormula() {
        var pixels: [UInt8] = []
        var want: [UInt8] = []
        for r in stride(from: 0, through: 255, by: 15) {
            for g in stride(from: 0, through: 255, by: 17) {
                for b in stride(from: 0, through: 255, by: 51) {
                    pixels += [UInt8(r), UInt8(g), UInt8(b)]
                    want.append(UInt8((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16))
                }
            }
        }
        let image = Image(width: want.count, height: 1, channels: 3, pixels: pixels)
        XCTAssertEqual(image.grayscale().pixels, want)
        XCTAssertEqual(image.grayscale().channels, 1)
        XCTAssertEqual(image.rgb(), image)
        // Spot checks against Pillow: convert("L") of (255, 0, 0), (0, 255, 0), (0, 0, 255), (1, 1, 1), (255, 255, 255).
        let spots = Image(width: 5, height: 1, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 1, 1, 255, 255, 255])
        XCTAssertEqual(spots.grayscale().pixels, [76, 150, 29, 1, 255])
    }

    func testRGBReplicatesGray() {
        let gray = Image(width: 2, height: 2, channels: 1, pixels: [0, 7, 128, 255])
        XCTAssertEqual(gray.rgb(), Image(width: 2, height: 2, channels: 3,
                                         pixels: [0, 0, 0, 7, 7, 7, 128, 128, 128, 255, 255, 255]))
        XCTAssertEqual(gray.grayscale(), gray)
        XCTAssertEqual(gray.rgb().grayscale(), gray)
        let empty = Image(width: 0, height: 3, channels: 1, pixels: [])
        XCTAssertEqual(empty.rgb().pixels, [])
    }

    // MARK: - Errors

    func testCorruptFixturesGiveErrorsNamingThePath() {
        let cases: [(String, [String])] = [
            ("truncated.jpg", ["truncated JPEG data", "Premature end of JPEG file"]),
            ("truncated.png", ["truncated PNG data"]),
            ("not_an_image.jpg", ["not a JPEG or PNG file"]),
            ("empty.png", ["empty file"]),
            ("huge.png", ["image too large", "20000x20000"]),
            ("huge.jpg", ["image too large", "60000x50000"]),
        ]
        for (name, fragments) in cases {
            for channels in [nil, 1, 3] as [Int?] {
                let path = fixture(name)
                assertError(imageError { try ImageDecoder.decode(contentsOf: path, channels: channels) },
                            path: path, contains: fragments)
            }
        }
        let error = imageError { try ImageDecoder.decode(contentsOf: fixture("not_an_image.jpg")) }
        XCTAssertEqual(error?.description, "\(fixture("not_an_image.jpg")): not a JPEG or PNG file")
    }

    func testMissingFileAndDirectory() {
        let missing = fixture("no_such_file.jpg")
        assertError(imageError { try ImageDecoder.decode(contentsOf: missing) },
                    path: missing, contains: ["cannot read file", "no such file"])
        let directory = Fixtures.path("images")
        assertError(imageError { try ImageDecoder.decode(contentsOf: directory) },
                    path: directory, contains: ["cannot read file", "is a directory, not a regular file"])
    }

    func testMemoryErrorsUseTheGivenPath() throws {
        assertError(imageError { try ImageDecoder.decode([]) }, path: "<memory>", contains: ["empty file"])
        assertError(imageError { try ImageDecoder.decode(Array("hello".utf8), path: "faces/x.jpg") },
                    path: "faces/x.jpg", contains: ["not a JPEG or PNG file"])
        XCTAssertEqual(imageError { try ImageDecoder.decode(Array("hello".utf8), path: "faces/x.jpg") }?.description,
                       "faces/x.jpg: not a JPEG or PNG file")
        // Signatures alone, or cut right after them.
        assertError(imageError { try ImageDecoder.decode([0xFF, 0xD8, 0xFF], path: "a.jpg") },
                    path: "a.jpg", contains: ["JPEG data"])
        assertError(imageError { try ImageDecoder.decode([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], path: "a.png") },
                    path: "a.png", contains: ["truncated PNG data"])
    }

    func testInvalidChannelsArgument() throws {
        let data = try bytes("gray.png")
        for channels in [0, 2, 4, -1] {
            assertError(imageError { try ImageDecoder.decode(data, path: "g.png", channels: channels) },
                        path: "g.png", contains: ["channels must be 1, 3 or nil"])
        }
    }

    /// Every proper prefix of a valid file is refused with an ImageError (Pillow raises
    /// "image file is truncated"), except PNGs that lack only (part of) the final 12-byte
    /// IEND chunk: libpng has all the pixels by then, and Pillow loads those too. None crashes.
    func testEveryPrefixIsRefused() throws {
        for name in ["face_10019449.jpg", "color_420.jpg", "progressive.jpg", "cmyk.jpg",
                     "gray.png", "interlaced.png", "palette4_trns.png", "gray16.png"] {
            let data = try bytes(name)
            var accepted: [Int] = []
            for length in 0..<data.count {
                do {
                    _ = try ImageDecoder.decode(Array(data[0..<length]), path: name, channels: 3)
                    accepted.append(length)
                } catch let error as ImageError {
                    XCTAssertEqual(error.path, name)
                    // A cut JPEG is reported as truncated, as Pillow does, wherever the cut is.
                    if name.hasSuffix(".jpg") && length >= 3 {
                        XCTAssertTrue(error.message.hasPrefix("truncated JPEG data"), "\(length): \(error)")
                    }
                } catch {
                    XCTFail("\(name)[0..<\(length)]: \(error)")
                }
            }
            let allowed = name.hasSuffix(".png") ? Array((data.count - 12)..<data.count) : []
            XCTAssertEqual(accepted, allowed, "\(name): prefixes decoded without an error")
        }
    }

    /// Random byte changes never crash: the decoder returns an image of the header's size or
    /// throws an ImageError.
    func testMutatedFilesNeverCrash() throws {
        var random = SplitMix64(state: 42)
        for name in ["face_10019449.jpg", "color_420.jpg", "progressive.jpg", "rgb.png", "interlaced.png", "palette.png"] {
            let original = try bytes(name)
            for _ in 0..<150 {
                var data = original
                for _ in 0..<(1 + random.below(4)) {
                    data[random.below(data.count)] = UInt8(random.below(256))
                }
                do {
                    let image = try ImageDecoder.decode(data, path: name)
                    XCTAssertEqual(image.pixels.count, image.width * image.height * image.channels)
                    XCTAssertLessThanOrEqual(image.width * image.height, ImageDecoder.maxPixels)
                } catch let error as ImageError {
                    XCTAssertEqual(error.path, name)
                } catch {
                    XCTFail("\(name): \(error)")
                }
            }
        }
    }

    /// libjpeg warnings that Pillow ignores do not make the file fail: extra bytes before EOI.
    func testJPEGWarningOtherThanTruncationIsAccepted() throws {
        let data = try bytes("color_420.jpg")
        XCTAssertEqual(Array(data.suffix(2)), [0xFF, 0xD9])
        let padded = Array(data.dropLast(2)) + [0x00, 0x11, 0x22] + [0xFF, 0xD9]
        XCTAssertEqual(try ImageDecoder.decode(padded), try ImageDecoder.decode(data))
        // Without EOI it is truncated, as in Pillow ("image file is truncated").
        assertError(imageError { try ImageDecoder.decode(Array(data.dropLast(2)), path: "x.jpg") },
                    path: "x.jpg", contains: ["truncated JPEG data"])
    }

    /// Stray bytes between header segments make libjpeg warn while reading the header
    /// ("extraneous bytes before marker 0xc0"); Pillow skips them, and so does the decoder.
    func testJPEGStrayBytesInHeaderAreAccepted() throws {
        let data = try bytes("color_420.jpg")
        guard let sof = (2..<data.count - 1).first(where: { data[$0] == 0xFF && data[$0 + 1] == 0xC0 }) else {
            return XCTFail("no SOF0 marker")
        }
        let padded = Array(data[..<sof]) + [0x00, 0x01, 0x02, 0x03] + Array(data[sof...])
        XCTAssertEqual(try ImageDecoder.decode(padded, channels: 3), try ImageDecoder.decode(data, channels: 3))
    }

    func testSizeLimits() {
        XCTAssertEqual(ImageDecoder.maxSide, 16_384)
        XCTAssertEqual(ImageDecoder.maxPixels, 1 << 26)
        XCTAssertEqual(ImageDecoder.maxFileBytes, 256 << 20)
    }
}
