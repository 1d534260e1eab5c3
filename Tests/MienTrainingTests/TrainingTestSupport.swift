import XCTest
import MienNN
import MienTestSupport
@testable import MienTraining

/// A `Tests/Fixtures/training/NAME.io.h5` file written by `tools/make_training_fixtures.py`.
struct TrainingFixture {
    let golden: Golden

    init(_ name: String) throws {
        golden = try Golden("training/\(name).io.h5")
    }

    func tensor(_ path: String) throws -> Tensor { try golden.tensor(path) }

    func scalar(_ path: String) throws -> Float { try golden.tensor(path).scalars[0] }

    func ints(_ path: String) throws -> [Int] { try golden.tensor(path).scalars.map { Int($0) } }

    func floats(_ path: String) throws -> [Float] { try golden.tensor(path).scalars }

    /// The weights under `group/` (`group/head_output/kernel`, ...) for the head's names.
    func weights(_ group: String, names: [String]) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for name in names { result[name] = try tensor("\(group)/\(name)") }
        return result
    }
}

/// The fixture heads: `sigmoid` (Dense(8, relu) → Dense(1, sigmoid)) and `softmax`
/// (Dense(3, softmax)) on 12 features, with the fixture's initial weights.
func fixtureHead(_ kind: String) throws -> (Head, TrainingFixture) {
    let fixture = try TrainingFixture("\(kind)_head")
    var layers: [any Layer] = []
    if kind == "sigmoid" {
        layers.append(Dense(name: "head_hidden", inputUnits: 12, units: 8, activation: .relu))
        layers.append(Dense(name: "head_output", inputUnits: 8, units: 1, activation: .sigmoid))
    } else {
        layers.append(Dense(name: "head_output", inputUnits: 12, units: 3, activation: .softmax))
    }
    var head = try Head(layers: layers)
    try head.setWeights(try fixture.weights("initial", names: head.parameterNames))
    return (head, fixture)
}

func assertClose(_ actual: Tensor, _ expected: Tensor, _ tolerance: Tolerance, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
    if let bad = mismatch(actual, expected, tolerance) {
        XCTFail("\(what): \(bad)", file: file, line: line)
    }
}

func assertClose(_ actual: Float, _ expected: Float, relative: Float, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    let allowed = relative * max(abs(expected), 1e-30)
    XCTAssertLessThanOrEqual(abs(actual - expected), allowed, "\(what): got \(actual), expected \(expected)",
                             file: file, line: line)
}

/// A generator that is never used (dropout off).
struct NoRandom: RandomNumberGenerator {
    mutating func next() -> UInt64 { fatalError("no random numbers expected") }
}
