import Foundation
import MienTestSupport
import XCTest

/// `mien train` then `mien evaluate` and `mien predict`, as a user runs them.
final class TrainCommandTests: XCTestCase {
    let backbone = Fixtures.packageRoot.appendingPathComponent("Weights/efficientnet_lite0_notop.h5").path
    let data = Fixtures.path("faces/folder/train")

    func temporaryFolder() throws -> URL { try makeTemporaryFolder("mien-train") }

    /// The README's recipe for a model that reads photos and crops alike: `mien align` the
    /// faces, then train on both framings.
    func testTrainsOnFacesAndTheirRealignedFraming() throws {
        let root = try temporaryFolder()
        let aligned = root.appendingPathComponent("aligned").path
        let align = try runMien(["align", data, "--output", aligned])
        XCTAssertEqual(align.status, 0, align.stderr)
        let model = root.appendingPathComponent("both.mien").path
        let train = try runMien(["train", "--backbone", backbone, "--data", data, "--realigned", aligned, "--output", model,
                                 "--input-size", "96", "--epochs", "1", "--fine-tune-epochs", "0", "--validation-split", "0.34"])
        XCTAssertEqual(train.status, 0, train.stderr)
        // 9 readable faces; the 48×48 FER faces are found and cut anew (`mien align` keeps
        // the few it finds no face in as they were, and those are not counted twice).
        let line = try XCTUnwrap(train.stderr.split(separator: "\n").first { $0.hasPrefix("realigned: ") }, train.stderr)
        XCTAssertTrue(line.hasSuffix(" of 9 faces also as framed in \(aligned)"), String(line))
        let count = try XCTUnwrap(Int(line.split(separator: " ")[1]))
        XCTAssertTrue((1...9).contains(count), String(line))
        XCTAssertTrue(FileManager.default.fileExists(atPath: model))
    }

    func testTrainEvaluatePredict() throws {
        let model = try temporaryFolder().appendingPathComponent("fer.mien").path
        let validationReport = try temporaryFolder().appendingPathComponent("validation").path
        let train = try runMien(["train", "--backbone", backbone, "--data", data, "--output", model,
                                 "--input-size", "96", "--epochs", "2", "--fine-tune-epochs", "2", "--validation-split", "0.34",
                                 "--report", validationReport])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stderr.contains("warning: "), "the truncated fixture face is named: \(train.stderr)")
        XCTAssertTrue(train.stderr.contains("epoch 2/2"), train.stderr)
        // Stage 2 by default: the backbone from block6a on, with the head.
        XCTAssertTrue(train.stderr.contains("stage 2: training"), train.stderr)
        XCTAssertTrue(train.stderr.contains("stage 2 epoch 4/4"), train.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: model + ".history.json"))
        // The model records that it averages each prediction with the mirror image's (the default).
        let header = try XCTUnwrap(FileHandle(forReadingAtPath: model)).readData(ofLength: 1 << 16)
        XCTAssertTrue(String(decoding: header, as: UTF8.self).contains(#""test_time_augmentation":"mirror""#))
        XCTAssertTrue(train.stderr.contains("/validation/report.html"), "mien train --report: \(train.stderr)")
        // The report's run table names stage 2's settings and the test-time augmentation.
        let runTable = try String(contentsOfFile: validationReport + "/report.html", encoding: .utf8)
        for text in ["from <code>block5a_expand_conv</code>", "best epoch by val_accuracy", "mirror (the mean of"] {
            XCTAssertTrue(runTable.contains(text), text)
        }

        let evaluate = try runMien(["evaluate", model, "--data", data, "--format", "json"])
        XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(evaluate.stdout.utf8)) as? [String: Any])
        for key in ["accuracy", "balanced_accuracy", "classes", "confusion_matrix"] { XCTAssertNotNil(report[key], key) }
        let classes = try XCTUnwrap(report["classes"] as? [[String: Any]])
        XCTAssertEqual(classes.map { $0["name"] as? String }, ["angry", "happy"])
        for key in ["precision", "recall", "f1", "support"] { XCTAssertNotNil(classes[0][key], key) }

        let text = try runMien(["evaluate", model, "--data", data])
        XCTAssertTrue(text.stdout.contains("weighted avg"), text.stdout)

        // --report: the page, its numbers and the charts, and the path as the last line.
        let folder = try temporaryFolder().appendingPathComponent("report").path
        let reported = try runMien(["evaluate", model, "--data", data, "--report", folder, "--threshold", "0.3"])
        XCTAssertEqual(reported.status, 0, reported.stderr)
        XCTAssertTrue(reported.stderr.hasSuffix("report: \(folder)/report.html\n"), reported.stderr)
        for file in ["report.html", "report.json", "loss.svg", "accuracy.svg", "confusion_matrix.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(folder)/\(file)"), file)
        }
        let page = try String(contentsOfFile: "\(folder)/report.html", encoding: .utf8)
        XCTAssertTrue(page.contains("<b>0.3</b>"), "the threshold is shown")
        let trainReport = try temporaryFolder().appendingPathComponent("train-report").path
        let refused = try runMien(["train", "--backbone", backbone, "--data", data, "--output", model + "2",
                                   "--validation-split", "0", "--report", trainReport])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--validation-split 0"), refused.stderr)

        let face = Fixtures.path("faces/folder/train/happy/face.png")
        let predict = try runMien(["predict", model, face])
        XCTAssertEqual(predict.status, 0, predict.stderr)
        XCTAssertTrue(predict.stdout.contains("\"label\""), predict.stdout)
    }

    func testBadDataExitsNonZeroNamingTheProblem() throws {
        let model = try temporaryFolder().appendingPathComponent("fer.mien").path
        for (extra, message) in [
            (["--data", data, "--classes", "angry,contempt"], "contempt"),
            (["--data", Fixtures.path("faces/empty_class")], "angry"),
            (["--data", data, "--strict"], "truncated.jpg"),
            (["--data", "/no/such/faces"], "/no/such/faces"),
            (["--data", data, "--optimizer", "adagrad"], "--optimizer"),
            (["--data", "/no/such/faces", "--fine-tune-from", "no_such_layer"], "--fine-tune-from: the backbone has no layer 'no_such_layer'"),
            (["--data", "/no/such/faces", "--fine-tune-from", "head_dropout"], "is a layer of the new head"),
            (["--data", data, "--head", "Dense(4, relu"], "invalid head: expected ')'"),
            // At 32×32 the default layer's map is 1×1: the default 3×3 pooling cannot fit.
            (["--data", data, "--input-size", "32"], "the backbone's (None, 1, 1, 192) map"),
        ] {
            let result = try runMien(["train", "--backbone", backbone, "--output", model, "--input-size", "96"] + extra)
            XCTAssertNotEqual(result.status, 0, "\(extra)")
            XCTAssertTrue(result.stderr.contains(message), "\(extra): \(result.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: model), "\(extra): no model written")
        }
    }
}

extension TrainCommandTests {
    /// `--model`: the original project's CNN trained as a whole, from scratch, then evaluated.
    func testTrainAWholeModelFromScratch() throws {
        let model = try temporaryFolder().appendingPathComponent("cnn.mien").path
        let result = try runMien(["train", "--model", Fixtures.path("gradients/step_original_cnn.h5"), "--from-scratch",
                                  "--rescale", "0.00392156862745098", "--data", data, "--output", model,
                                  "--epochs", "2", "--batch-size", "4", "--validation-split", "0.34"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("stage 1: training 10 weight tensors"), result.stderr)
        XCTAssertTrue(result.stderr.contains("epoch 2/2"), result.stderr)
        let evaluate = try runMien(["evaluate", model, "--data", data])
        XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
        let refused = try runMien(["train", "--model", backbone, "--data", data, "--output", model + "2", "--input-size", "64"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("does not give 2 classes"), refused.stderr)
    }

    /// A full model with its ImageNet head: the head after `top_activation` is replaced.
    func testReplaceHeadAfter() throws {
        let model = try temporaryFolder().appendingPathComponent("replaced.mien").path
        let full = Fixtures.packageRoot.appendingPathComponent("Weights/efficientnet_lite0.h5").path
        let result = try runMien(["train", "--backbone", full, "--replace-head-after", "top_activation",
                                  "--data", data, "--output", model, "--input-size", "224", "--epochs", "1", "--fine-tune-epochs", "1",
                                  "--validation-split", "0.34"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let inspect = try runMien(["predict", model, Fixtures.path("faces/folder/train/happy/face.png")])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        // The ImageNet model takes 224×224 only: another size is refused with the fix.
        let wrong = try runMien(["train", "--backbone", full, "--replace-head-after", "top_activation",
                                 "--data", data, "--output", model + "2", "--input-size", "96"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("--input-size 224"), wrong.stderr)
    }
}
