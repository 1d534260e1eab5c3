import Foundation
import MienTestSupport
import XCTest

/// `mien bench`: throughput and the machine's sgemm rate, as JSON (no timing is checked).
final class BenchCommandTests: XCTestCase {
    func testJSONHasTheFiguresAndBadInputIsRefused() throws {
        let backbone = Fixtures.packageRoot.appendingPathComponent("Weights/efficientnet_lite0_notop.h5").path
        let result = try runMien(["bench", backbone, "--input-size", "32", "--batch-size", "2", "--seconds", "0.01",
                                  "--threads", "1", "--per-slice", "1", "--format", "json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in ["images_per_second", "batch_size", "input_size", "threads", "gflops_per_second",
                    "sgemm_gflops_per_second", "peak_memory_mb"] {
            XCTAssertNotNil(json[key], key)
        }
        XCTAssertEqual(json["input_size"] as? Int, 32)
        XCTAssertEqual(json["threads"] as? Int, 1)
        XCTAssertGreaterThan(json["images_per_second"] as? Double ?? 0, 0)
        // EfficientNet-Lite0 at 32×32: 2 × (multiply-adds) ≈ 0.8 GFLOP × (32/224)².
        XCTAssertEqual(json["gflops_per_image"] as? Double ?? 0, 0.768 * 32 * 32 / (224 * 224), accuracy: 0.002)

        XCTAssertTrue((json["kernels"] as? String ?? "").contains("Mien "))
        XCTAssertNil(json["profile"])

        // --batch-size 1: one image's latency, median and p99 (nearest rank: never below the median).
        let single = try runMien(["bench", backbone, "--input-size", "32", "--batch-size", "1", "--seconds", "0.05",
                                  "--threads", "1"])
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertTrue(single.stdout.contains("latency of one image: median "), single.stdout)
        XCTAssertTrue(single.stdout.contains(" ms, p99 "), single.stdout)
        let median = try XCTUnwrap(json["median_batch_seconds"] as? Double)
        let p99 = try XCTUnwrap(json["p99_batch_seconds"] as? Double)
        XCTAssertGreaterThanOrEqual(p99, median)

        // --profile: every layer of the flattened backbone, shares summing to the whole pass.
        let profiled = try runMien(["bench", backbone, "--input-size", "32", "--batch-size", "2", "--seconds", "0.01",
                                    "--threads", "1", "--profile", "--format", "json"])
        XCTAssertEqual(profiled.status, 0, profiled.stderr)
        let profileJSON = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(profiled.stdout.utf8)) as? [String: Any])
        let profile = try XCTUnwrap(profileJSON["profile"] as? [String: Any])
        let layers = try XCTUnwrap(profile["layers"] as? [[String: Any]])
        let classes = try XCTUnwrap(profile["classes"] as? [[String: Any]])
        XCTAssertTrue(layers.contains { $0["layer"] as? String == "stem_conv" })
        // The inverted-residual blocks run fused, as `mien predict` runs them.
        XCTAssertTrue(classes.contains { $0["keras_class"] as? String == "InvertedResidualBlock" })
        XCTAssertEqual(layers.compactMap { $0["share"] as? Double }.reduce(0, +), 1, accuracy: 1e-6)
        let text = try runMien(["bench", backbone, "--input-size", "32", "--batch-size", "2", "--seconds", "0.01",
                                "--threads", "1", "--profile"])
        XCTAssertTrue(text.stdout.contains("slowest layers:"), text.stdout)

        let dense = Fixtures.path("keras/dense_mlp.k3.h5")
        let refused = try runMien(["bench", dense])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("takes one image"), refused.stderr)
        XCTAssertNotEqual(try runMien(["bench", backbone, "--batch-size", "0"]).status, 0)
    }
}
