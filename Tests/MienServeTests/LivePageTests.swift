import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HummingbirdWSClient
import Logging
import MienFaceDetection
import MienImages
import MienModelFile
@testable import MienServe
import MienTestSupport
import NIOCore
import XCTest

/// The live page in headless Chromium, its camera a fake one playing a video of a composed
/// photo (`--use-file-for-fake-video-capture`): the page sends frames over the WebSocket and
/// draws the answers. Driven over the DevTools protocol: the test waits until the page has
/// drawn answers with a face, then takes a screenshot (written to `MIEN_SCREENSHOT` when it
/// is set: `docs/live.png` is made so). Needs Debian's `chromium` (`.ci/run` installs it).
final class LivePageTests: XCTestCase {
    func testPageShowsFacesFromTheCamera() async throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0)
        }) else { throw XCTSkip("Chromium is not installed (apt-get install -y chromium)") }
        let folder = try makeTemporaryFolder()
        let video = folder.appendingPathComponent("camera.y4m").path
        try Self.writeY4M(try ImageDecoder.decode(contentsOf: Fixtures.path("mtcnn/photos/composed_04.jpg"), channels: 3),
                          frames: 30, to: video)
        let weights = Fixtures.packageRoot.appendingPathComponent("Weights").path
        let predictor = try PhotoPredictor(detector: try FaceDetector(folder: weights),
                                           predictor: try Predictor(contentsOf: weights + "/fer7.mien"))
        let server = FaceServer(predictor: predictor, options: ServerOptions(port: 0))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        // MIEN_SERVE_PORT: a `mien serve` already running there (a release build, for the
        // README's screenshot) instead of this debug build's server.
        let external = ProcessInfo.processInfo.environment["MIEN_SERVE_PORT"].flatMap { Int($0) }
        let serving = Task { if external == nil { try await server.run { continuation.yield($0) } } }
        defer { serving.cancel() }
        var iterator = ports.makeAsyncIterator()
        let first = external == nil ? await iterator.next() : external
        let port = try XCTUnwrap(first)

        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: chromium)
        browser.arguments = ["--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0", "--remote-allow-origins=*",
                             "--user-data-dir=\(folder.appendingPathComponent("profile").path)",
                             "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                             "--use-file-for-fake-video-capture=\(video)", "--window-size=960,560",
                             "http://127.0.0.1:\(port)/"]
        let errors = Pipe()
        browser.standardError = errors
        browser.standardOutput = FileHandle.nullDevice
        try browser.run()
        defer { browser.terminate() }
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/..."
        var log = ""
        while !log.contains("DevTools listening on ") {
            let data = errors.fileHandleForReading.availableData
            guard !data.isEmpty else { return XCTFail("Chromium ended: \(log)") }
            log += String(decoding: data, as: UTF8.self)
        }
        let devtools = try XCTUnwrap(log.components(separatedBy: "DevTools listening on ").last?
            .split(whereSeparator: \.isWhitespace).first.map(String.init))
        let screenshot = try await Self.whenAnswered(browser: devtools, port: port, timeout: 90)
        let png = try XCTUnwrap(Data(base64Encoded: screenshot.image))
        let image = try ImageDecoder.decode([UInt8](png), path: "screenshot")
        XCTAssertEqual(image.width, 960)
        XCTAssertGreaterThanOrEqual(screenshot.answered, 3, "frames answered")
        XCTAssertEqual(screenshot.faces, 2, "the faces in the video")
        if let path = ProcessInfo.processInfo.environment["MIEN_SCREENSHOT"] { try png.write(to: URL(fileURLWithPath: path)) }
    }

    /// Attaches to the browser's page of the server at `port`, polls it until it has drawn 3
    /// answers, then captures it. (Over the browser's own DevTools socket: its HTTP endpoint
    /// writes headers FoundationNetworking refuses.)
    static func whenAnswered(browser: String, port: Int, timeout: Double) async throws -> (answered: Int, faces: Int, image: String) {
        let result = Replies()
        try await WebSocketClient.connect(url: browser, configuration: .init(maxFrameSize: 1 << 24),
                                          logger: Logger(label: "devtools")) { inbound, outbound, _ in
            var messages = inbound.messages(maxSize: 1 << 24).makeAsyncIterator()
            var id = 0
            var session: String?
            func call(_ method: String, _ params: [String: Any] = [:]) async throws -> [String: Any] {
                id += 1
                var object: [String: Any] = ["id": id, "method": method, "params": params]
                if let session { object["sessionId"] = session }
                let command = try JSONSerialization.data(withJSONObject: object)
                try await outbound.write(.text(String(decoding: command, as: UTF8.self)))
                while let message = try await messages.next() {
                    guard case .text(let text) = message,
                          let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                          object["id"] as? Int == id else { continue }
                    return object["result"] as? [String: Any] ?? [:]
                }
                return [:]
            }
            func number(_ expression: String) async throws -> Int {
                let value = try await call("Runtime.evaluate", ["expression": expression, "returnByValue": true])
                return Int((value["result"] as? [String: Any])?["value"] as? String ?? "") ?? 0
            }
            let targets = try await call("Target.getTargets")["targetInfos"] as? [[String: Any]] ?? []
            guard let page = targets.first(where: { ($0["url"] as? String ?? "").contains(":\(port)/") })?["targetId"] else {
                return
            }
            session = try await call("Target.attachToTarget", ["targetId": page, "flatten": true])["sessionId"] as? String
            // The whole window, not what is left of it below the headless browser's bars.
            _ = try await call("Emulation.setDeviceMetricsOverride",
                               ["width": 960, "height": 560, "deviceScaleFactor": 1, "mobile": false])
            let start = Date()
            var answered = 0
            while answered < 3, Date().timeIntervalSince(start) < timeout {
                try await Task.sleep(nanoseconds: 300_000_000)
                answered = try await number("document.body.dataset.answered || '0'")
            }
            let faces = try await number("document.body.dataset.faces || '0'")
            let shot = try await call("Page.captureScreenshot", ["format": "png"])
            await result.append("\(answered) \(faces) \(shot["data"] as? String ?? "")")
            try await outbound.close(.normalClosure, reason: nil)
        }
        let parts = (await result.texts.first ?? "0 0 ").split(separator: " ", omittingEmptySubsequences: false)
        return (Int(parts[0]) ?? 0, Int(parts[1]) ?? 0, String(parts[2]))
    }

    /// `frames` copies of `image` as a YUV 4:2:0 video (what Chromium's fake camera plays).
    static func writeY4M(_ image: Image, frames: Int, to path: String) throws {
        let (w, h) = (image.width / 2 * 2, image.height / 2 * 2)
        var y = [UInt8](repeating: 0, count: w * h)
        var u = [UInt8](repeating: 0, count: w * h / 4), v = u
        func pixel(_ row: Int, _ col: Int) -> (Double, Double, Double) {
            let p = (row * image.width + col) * 3
            return (Double(image.pixels[p]), Double(image.pixels[p + 1]), Double(image.pixels[p + 2]))
        }
        func byte(_ x: Double) -> UInt8 { UInt8(max(0, min(255, x.rounded()))) }
        for row in 0..<h {
            for col in 0..<w {
                let (r, g, b) = pixel(row, col)
                y[row * w + col] = byte(0.299 * r + 0.587 * g + 0.114 * b)
            }
        }
        for row in 0..<(h / 2) {
            for col in 0..<(w / 2) {
                var (r, g, b) = (0.0, 0.0, 0.0)
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let p = pixel(2 * row + dy, 2 * col + dx)
                    (r, g, b) = (r + p.0 / 4, g + p.1 / 4, b + p.2 / 4)
                }
                u[row * w / 2 + col] = byte(128 - 0.168736 * r - 0.331264 * g + 0.5 * b)
                v[row * w / 2 + col] = byte(128 + 0.5 * r - 0.418688 * g - 0.081312 * b)
            }
        }
        var data = Data("YUV4MPEG2 W\(w) H\(h) F30:1 Ip A1:1 C420jpeg\n".utf8)
        for _ in 0..<frames {
            data += Data("FRAME\n".utf8)
            data += Data(y) + Data(u) + Data(v)
        }
        try data.write(to: URL(fileURLWithPath: path))
    }
}
