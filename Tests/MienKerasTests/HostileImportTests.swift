import Foundation
import MienKeras
import MienTestSupport
import XCTest

/// The importer refuses each hostile file of `Tests/Fixtures/hostile` (made by
/// tools/make_hostile_fixtures.py with real Keras, then spoiled with h5py) with a
/// `KerasError` naming the file and the reason in `expected.json`.
final class HostileImportTests: XCTestCase {
    func testHostileFilesAreRefused() throws {
        let folder = Fixtures.path("hostile")
        let expected = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/expected.json"))) as? [String: String])
        // heap_flip.k3.h5 crashes libhdf5 itself; only the command line, which reads files in
        // a child process first, can survive it (Tests/MienCLITests/HostileInputTests).
        for (name, fragment) in expected.sorted(by: { $0.key < $1.key }) where name != "heap_flip.k3.h5" {
            let path = "\(folder)/\(name)"
            guard let error = caught(KerasError.self, { try KerasModel(contentsOf: path) }) else { continue }
            XCTAssertEqual(error.file, path, name)
            XCTAssertTrue(error.description.contains(fragment), "\(name): '\(error)' lacks '\(fragment)'")
            XCTAssertNotNil(error.layer, "\(name): the layer is named")
        }
    }
}
