import Foundation
import XCTest

extension XCTestCase {
    /// A new empty folder, removed when the test ends: every test that writes files gets
    /// its own, so "no files left behind" can be checked exactly.
    public func makeTemporaryFolder(_ prefix: String = "mien-test") throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
