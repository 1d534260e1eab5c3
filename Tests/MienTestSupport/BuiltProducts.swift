import Foundation
import XCTest

/// An executable built with the tests, beside the test bundle in the build products folder
/// (on Linux the bundle URL is that folder; on macOS it is a `.xctest` bundle inside it).
public func builtProduct(_ name: String, besideBundleOf testClass: AnyClass) throws -> URL {
    let bundle = Bundle(for: testClass).bundleURL
    let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent(name) }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        struct NotBuilt: Error { var candidates: [String] }
        throw NotBuilt(candidates: candidates.map(\.path))
    }
    return found
}

/// Runs a built executable as a user would: its exit status and what it printed. A hang
/// (a FIFO read forever, say) fails the test instead of stalling the suite.
public func runBuiltProduct(_ executable: URL, _ arguments: [String], timeout: Double = 300, in directory: URL? = nil,
                            file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let done = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in done.signal() }
    try process.run()
    let watchdog = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    watchdog.cancel()
    if process.terminationReason == .uncaughtSignal {
        let name = executable.lastPathComponent
        XCTFail("\(name) \(arguments.joined(separator: " ")) was killed by signal \(process.terminationStatus)\(process.terminationStatus == SIGKILL ? " (timed out after \(Int(timeout)) s)" : "")",
                file: file, line: line)
    }
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}
