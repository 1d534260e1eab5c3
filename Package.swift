// swift-tools-version:6.0
import PackageDescription

// Every module is prefixed `Mien` so that none clashes with a module of an app's other
// packages. The products are what an app depends on; each links only what it needs.
let package = Package(
    name: "Mien",
    products: [
        .executable(name: "mien", targets: ["mien"]),
        // Run `.mien` models: tensors, layers, the `.mien` reader and the Predictor, image
        // decoding. No libhdf5, no CSV.
        .library(name: "MienInference", targets: ["MienNN", "MienKerasConfig", "MienImages", "MienModelFile", "MienFiles",
                                                  "MienFaceDetection"]),
        // Import and export Keras files (`.h5`, `.weights.h5`, `.keras`) through libhdf5.
        .library(name: "MienKeras", targets: ["MienKeras", "MienHDF5"]),
        // Train: heads, fine-tuning, fit/evaluate, FER-2013 folders.
        .library(name: "MienTraining", targets: ["MienTraining", "MienFaces"]),
        // The evaluation report (metrics, charts, gallery) as HTML and JSON.
        .library(name: "MienReport", targets: ["MienReport", "MienCharts"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        // Keras 3's `.keras` files are zip archives: read and written by MienKeras only.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        // `mien serve`: HTTP and WebSocket (MienServe only).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
    ],
    targets: [
        // System libraries: module maps and shim headers only.
        .systemLibrary(name: "MienCHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "MienCBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "MienCJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "MienCPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        // glibc's mallopt (part of libc: nothing to install).
        .systemLibrary(name: "MienCMalloc"),

        // Hot loops in C, built for baseline x86-64 and for AVX2+FMA, chosen at run time.
        .target(name: "MienCKernels"),

        // Untrusted paths: regular files only, reads with a size limit.
        .target(name: "MienFiles"),
        // Read-only Swift view of HDF5 files.
        .target(name: "MienHDF5", dependencies: ["MienCHDF5", "MienFiles"]),
        // NHWC tensors, kernels, layers and the layer graph.
        .target(name: "MienNN", dependencies: ["MienCBLAS", "MienCMalloc", "MienCKernels", "MienFiles"]),
        .target(name: "MienTraining", dependencies: ["MienNN", "MienFaces", "MienKeras", "MienKerasConfig", "MienModelFile", "MienFiles"]),
        // Keras's model_config JSON <-> NN graph (no HDF5: model files reuse it).
        .target(name: "MienKerasConfig", dependencies: ["MienNN"]),
        // Keras .h5 / .weights.h5 / .keras files <-> NN graph with weights.
        .target(name: "MienKeras", dependencies: ["MienHDF5", "MienNN", "MienKerasConfig", "MienFiles",
                                                  .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // The .mien model file (safetensors + Keras config) and the Predictor; no HDF5.
        .target(name: "MienModelFile", dependencies: ["MienNN", "MienKerasConfig", "MienImages", "MienFiles"]),
        // JPEG (libjpeg-turbo) and PNG (libpng) decoding, pixel-identical to Pillow.
        .target(name: "MienImages", dependencies: ["MienCJPEG", "MienCPNG", "MienFiles"]),
        // Faces in photos: MTCNN (three `.mien` networks) and the FER-2013-style crop.
        .target(name: "MienFaceDetection", dependencies: ["MienNN", "MienCKernels", "MienImages", "MienModelFile", "MienFiles"]),
        // `mien serve`: the model over HTTP and WebSocket (Hummingbird), and the live page.
        .target(name: "MienServe", dependencies: [
            "MienFaceDetection", "MienModelFile", "MienImages", "MienNN",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        ]),
        .target(name: "MienFaces", dependencies: ["MienImages", "MienNN", "MienFiles", .product(name: "CSV", package: "CSV.swift")]),
        // A small SVG writer and the report's charts (line charts, heat map, curves); Foundation only.
        .target(name: "MienCharts"),
        // The report: metrics, charts and faces of an evaluation as report.html and report.json.
        .target(name: "MienReport", dependencies: ["MienCharts", "MienTraining", "MienFaces", "MienImages", "MienModelFile"]),
        // The command-line tool.
        .executableTarget(name: "mien", dependencies: [
            "MienKeras", "MienKerasConfig", "MienNN", "MienHDF5", "MienModelFile", "MienImages", "MienFaces", "MienFaceDetection", "MienServe",
            "MienTraining", "MienReport", "MienFiles",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared test helpers: approximate equality and fixture paths.
        .target(name: "MienTestSupport", dependencies: ["MienNN", "MienHDF5"], path: "Tests/MienTestSupport"),
        .testTarget(name: "MienFilesTests", dependencies: ["MienFiles", "MienTestSupport"]),
        .testTarget(name: "MienHDF5Tests", dependencies: ["MienHDF5", "MienTestSupport"]),
        // The gradient tests load their Keras models through the importer.
        .testTarget(name: "MienNNTests", dependencies: ["MienNN", "MienKeras", "MienTestSupport"]),
        .testTarget(name: "MienTrainingTests", dependencies: ["MienTraining", "MienFaces", "MienNN", "MienKeras", "MienTestSupport"]),
        .testTarget(name: "MienKerasConfigTests", dependencies: ["MienKerasConfig", "MienKeras", "MienNN", "MienTestSupport"]),
        .testTarget(name: "MienKerasTests", dependencies: ["MienKeras", "MienKerasConfig", "MienNN", "MienHDF5", "MienTestSupport"]),
        .testTarget(name: "MienImagesTests", dependencies: ["MienImages", "MienTestSupport"]),
        .testTarget(name: "MienCLITests", dependencies: ["mien", "MienTestSupport"]),
        .testTarget(name: "MienChartsTests", dependencies: ["MienCharts", "MienTestSupport"]),
        .testTarget(name: "MienReportTests", dependencies: ["MienReport", "MienTraining", "MienFaces", "MienModelFile", "MienTestSupport"]),
        .testTarget(name: "MienFaceDetectionTests", dependencies: ["MienFaceDetection", "MienKeras", "MienImages", "MienNN", "MienTestSupport"]),
        .testTarget(name: "MienServeTests", dependencies: [
            "MienServe", "MienFaceDetection", "MienModelFile", "MienImages", "MienTestSupport",
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        ]),
        .testTarget(name: "MienFacesTests", dependencies: ["MienFaces", "MienNN", "MienTestSupport"]),
        .testTarget(name: "MienModelFileTests", dependencies: ["MienModelFile", "MienNN", "MienKerasConfig", "MienKeras", "MienImages", "MienTestSupport"]),

        // Fuzz targets (libFuzzer via tools/fuzz.sh), their driver/replayer, and the replay of
        // Tests/Fixtures/fuzz/*/{seeds,crashes} in the test suite.
        .target(name: "MienFuzz", dependencies: ["MienModelFile", "MienKerasConfig", "MienNN", "MienTraining", "MienImages", "MienFaces", "MienFiles",
                                                 "MienFaceDetection"]),
        .executableTarget(name: "mien-fuzz", dependencies: ["MienFuzz", "MienNN"]),

        // The README's "Use Mien from Swift" examples, built and run by MienExamplesTests:
        // prediction needs the inference modules alone (no libhdf5, no CSV).
        .executableTarget(name: "mien-example-predict", dependencies: ["MienModelFile", "MienImages"],
                          path: "Examples/PredictFace"),
        .executableTarget(name: "mien-example-photo", dependencies: ["MienFaceDetection", "MienModelFile", "MienImages"],
                          path: "Examples/PredictPhoto"),
        .executableTarget(name: "mien-example-fine-tune", dependencies: ["MienTraining", "MienModelFile", "MienImages"],
                          path: "Examples/FineTune"),
        .testTarget(name: "MienExamplesTests", dependencies: ["mien-example-predict", "mien-example-photo", "mien-example-fine-tune",
                                                             "MienTestSupport"]),
        .testTarget(name: "MienFuzzTests", dependencies: ["MienFuzz", "MienTestSupport"]),
    ]
)
