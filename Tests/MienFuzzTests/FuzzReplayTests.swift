import Foundation
import MienFuzz
import MienTestSupport
import XCTest

/// Replays the committed fuzz corpora: every file under `Tests/Fixtures/fuzz/TARGET/seeds`
/// and `.../crashes` goes through its target once. A target only has to return: a crash,
/// trap or sanitizer report fails the run (a thrown error is the right answer to bad input
/// and is caught inside the target). `crashes/` holds every input that ever crashed, hung
/// or blew up a target, so a regression shows up here without running a fuzzer.
final class FuzzReplayTests: XCTestCase {
    static let root = Fixtures.path("fuzz")

    /// Regular files of a folder (not hidden: `.gitkeep`), sorted; empty if it is missing.
    func files(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { (folder as NSString).appendingPathComponent($0) }
    }

    func replay(_ target: String, _ kind: String) throws -> Int {
        let run = try XCTUnwrap(FuzzTargets.all[target], "no fuzz target '\(target)'")
        let folder = "\(Self.root)/\(target)/\(kind)"
        var count = 0
        for file in files(in: folder) {
            let data = try XCTUnwrap(FileManager.default.contents(atPath: file), "cannot read \(file)")
            [UInt8](data).withUnsafeBytes { run($0) }
            count += 1
        }
        return count
    }

    func testEveryTargetHasSeeds() {
        for target in FuzzTargets.names {
            XCTAssertFalse(files(in: "\(Self.root)/\(target)/seeds").isEmpty, "no seeds for fuzz target '\(target)'")
            var isFolder: ObjCBool = false
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(Self.root)/\(target)/crashes", isDirectory: &isFolder)
                          && isFolder.boolValue, "no crashes/ folder for fuzz target '\(target)'")
        }
    }

    func testEveryCorpusFolderHasATarget() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.root).filter { entry in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: "\(Self.root)/\(entry)", isDirectory: &isFolder) && isFolder.boolValue
        }
        for folder in folders {
            XCTAssertNotNil(FuzzTargets.all[folder], "Tests/Fixtures/fuzz/\(folder) has no fuzz target of that name")
        }
    }

    func testSafetensors() throws { try replayAll("safetensors") }
    func testMien() throws { try replayAll("mien") }
    func testKerasConfig() throws { try replayAll("keras-config") }
    func testHead() throws { try replayAll("head") }
    func testImage() throws { try replayAll("image") }
    func testCSV() throws { try replayAll("csv") }
    func testCheckpoint() throws { try replayAll("checkpoint") }
    func testDetectorManifest() throws { try replayAll("detector-manifest") }

    func testRegistryNamesAreTheTestedOnes() {
        XCTAssertEqual(FuzzTargets.names, ["checkpoint", "csv", "detector-manifest", "head", "image", "keras-config", "mien", "safetensors"])
    }

    func replayAll(_ target: String) throws {
        let seeds = try replay(target, "seeds")
        XCTAssertGreaterThan(seeds, 0, "no seeds for '\(target)'")
        _ = try replay(target, "crashes")
    }
}
