// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Mien",
    products: [
        .executable(name: "mien", targets: ["mien"]),
        .library(name: "Mien", targets: ["MienFiles", "HDF5", "NN", "KerasConfig", "Keras", "Images", "ModelFile", "Training", "Faces", "Charts", "Report"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
    ],
    targets: [
        // System libraries: module maps and shim headers only.
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        // glibc's mallopt (part of libc: nothing to install).
        .systemLibrary(name: "CMalloc"),

        // Hot loops in C, built for baseline x86-64 and for AVX2+FMA, chosen at run time.
        .target(name: "CKernels"),

        // Untrusted paths: regular files only, reads with a size limit.
        .target(name: "MienFiles"),
        // Read-only Swift view of HDF5 files.
        .target(name: "HDF5", dependencies: ["CHDF5", "MienFiles"]),
        // NHWC tensors, kernels, layers and the layer graph.
        .target(name: "NN", dependencies: ["CBLAS", "CMalloc", "CKernels", "MienFiles"]),
        .target(name: "Training", dependencies: ["NN", "Faces", "Keras", "KerasConfig", "ModelFile", "MienFiles"]),
        // Keras's model_config JSON <-> NN graph (no HDF5: model files reuse it).
        .target(name: "KerasConfig", dependencies: ["NN"]),
        // Keras .h5 / .weights.h5 files <-> NN graph with weights.
        .target(name: "Keras", dependencies: ["HDF5", "NN", "KerasConfig", "MienFiles"]),
        // The .mien model file (safetensors + Keras config) and the Predictor; no HDF5.
        .target(name: "ModelFile", dependencies: ["NN", "KerasConfig", "Images", "MienFiles"]),
        // JPEG (libjpeg-turbo) and PNG (libpng) decoding, pixel-identical to Pillow.
        .target(name: "Images", dependencies: ["CJPEG", "CPNG", "MienFiles"]),
        .target(name: "Faces", dependencies: ["Images", "NN", "MienFiles", .product(name: "CSV", package: "CSV.swift")]),
        // A small SVG writer and the report's charts (line charts, heat map, curves); Foundation only.
        .target(name: "Charts"),
        // The report: metrics, charts and faces of an evaluation as report.html and report.json.
        .target(name: "Report", dependencies: ["Charts", "Training", "Faces", "Images", "ModelFile"]),
        // The command-line tool.
        .executableTarget(name: "mien", dependencies: [
            "Keras", "KerasConfig", "NN", "HDF5", "ModelFile", "Images", "Faces", "Training", "Report", "MienFiles",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared test helpers: approximate equality and fixture paths.
        .target(name: "TestSupport", dependencies: ["NN", "HDF5"], path: "Tests/TestSupport"),
        .testTarget(name: "MienFilesTests", dependencies: ["MienFiles", "TestSupport"]),
        .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "TestSupport"]),
        // The gradient tests load their Keras models through the importer.
        .testTarget(name: "NNTests", dependencies: ["NN", "Keras", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Faces", "NN", "Keras", "TestSupport"]),
        .testTarget(name: "KerasConfigTests", dependencies: ["KerasConfig", "Keras", "NN", "TestSupport"]),
        .testTarget(name: "KerasTests", dependencies: ["Keras", "KerasConfig", "NN", "HDF5", "TestSupport"]),
        .testTarget(name: "ImagesTests", dependencies: ["Images", "TestSupport"]),
        .testTarget(name: "MienCLITests", dependencies: ["mien", "TestSupport"]),
        .testTarget(name: "ChartsTests", dependencies: ["Charts", "TestSupport"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Training", "Faces", "ModelFile", "TestSupport"]),
        .testTarget(name: "FacesTests", dependencies: ["Faces", "NN", "TestSupport"]),
        .testTarget(name: "ModelFileTests", dependencies: ["ModelFile", "NN", "KerasConfig", "Keras", "Images", "TestSupport"]),

        // Fuzz targets (libFuzzer via tools/fuzz.sh), their driver/replayer, and the replay of
        // Tests/Fixtures/fuzz/*/{seeds,crashes} in the test suite.
        .target(name: "MienFuzz", dependencies: ["ModelFile", "KerasConfig", "NN", "Training", "Images", "Faces", "MienFiles"]),
        .executableTarget(name: "mien-fuzz", dependencies: ["MienFuzz", "NN"]),
        .testTarget(name: "MienFuzzTests", dependencies: ["MienFuzz", "TestSupport"]),
    ]
)
