import MienNN
import XCTest

/// Splitting a batch across cores and into small slices computes what one pass computes.
final class BatchRunnerTests: XCTestCase {
    func testSlicedForwardEqualsOnePass() throws {
        var conv = Conv2D(name: "conv", inputChannels: 1, filters: 3, kernelSize: (3, 3), padding: .same)
        try conv.setParameter("kernel", to: Tensor(shape: [3, 3, 1, 3], scalars: (0..<27).map { Float($0 % 7) - 3 }))
        let graph = try Graph(name: "g", layers: [InputLayer(name: "in", shape: [nil, 5, 5, 1]), conv,
                                                  GlobalAveragePooling2D(name: "gap")],
                              nodes: [.init(layer: 0, inputs: []), .init(layer: 1, inputs: [0]),
                                      .init(layer: 2, inputs: [1])],
                              inputNodes: [0], outputNode: 2)
        let x = Tensor(shape: [7, 5, 5, 1], scalars: (0..<175).map { Float($0 % 11) })
        let expected = try graph.forward([x])
        for (cores, perSlice) in [(1, Int.max), (2, Int.max), (2, 1), (3, 2), (4, 100)] {
            XCTAssertEqual(try BatchRunner.forward(graph, x, cores: cores, perSlice: perSlice), expected,
                           "cores \(cores), per slice \(perSlice)")
        }
        XCTAssertEqual(BatchRunner.imagesPerSlice(side: 224), 4)
        XCTAssertEqual(BatchRunner.imagesPerSlice(side: 48), 32)
    }
}
