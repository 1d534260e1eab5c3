import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MienTestSupport
import XCTest

/// `mien serve` as a user runs it: it prints where it listens, answers, and SIGTERM stops it
/// cleanly (exit 0); bad options are refused before anything is loaded.
final class ServeCommandTests: XCTestCase {
    func testServesUntilSIGTERM() throws {
        let process = Process()
        process.executableURL = try mienExecutable()
        process.arguments = ["serve", Fixtures.packageRoot.appendingPathComponent("Weights/fer7.mien").path, "--port", "0"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        var line = ""
        while !line.contains("\n") {
            let data = out.fileHandleForReading.availableData
            guard !data.isEmpty else { break }
            line += String(decoding: data, as: UTF8.self)
        }
        let url = try XCTUnwrap(line.components(separatedBy: " at ").last?.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertTrue(line.hasPrefix("serving ") && url.hasPrefix("http://127.0.0.1:"), line)

        var request = URLRequest(url: URL(string: url + "predict")!)
        request.httpMethod = "POST"
        request.httpBody = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("mtcnn/photos/composed_06.jpg")))
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var answer: (Int, Data)?
        URLSession.shared.dataTask(with: request) { data, response, _ in
            answer = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())
            done.signal()
        }.resume()
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(answer?.0, 200)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: answer?.1 ?? Data()) as? [String: Any])
        XCTAssertEqual((json["faces"] as? [Any])?.count, 1)

        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0, String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    func testBadOptionsAreRefused() throws {
        let model = Fixtures.packageRoot.appendingPathComponent("Weights/fer7.mien").path
        for (arguments, message) in [(["--port", "70000"], "--port must be in 0...65535"),
                                     (["--max-upload-bytes", "10"], "--max-upload-bytes"),
                                     (["--queue-length", "-1"], "--queue-length"),
                                     (["--detector", "/nonexistent"], "mtcnn_pnet.mien")] {
            let result = try runMien(["serve", model] + arguments, timeout: 60)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertTrue(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
