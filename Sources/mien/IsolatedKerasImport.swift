import ArgumentParser
import Foundation
import MienKeras
import MienFiles

/// Reads Keras `.h5` and `.keras` files without letting libhdf5 (or ZIPFoundation) take
/// `mien` down.
///
/// Debian's libhdf5 (1.10) trusts what it reads: a few flipped bytes in the global heap that
/// holds a model's config make `H5HG_read` copy past its buffer and crash (found by
/// `tools/fuzz_cli.py`), and other corruptions make it allocate gigabytes before it fails.
/// Such a file cannot be recognised before libhdf5 reads it without parsing HDF5 ourselves,
/// so `mien` first imports every Keras file in a child process (itself, `mien _check-keras`)
/// with a memory limit and a deadline. Only if the child finishes does `mien` import the
/// file itself, which then takes the same path through libhdf5; a crash, a blowup or a hang
/// becomes one clean error. It costs one more import: 0.13 s for the bundled backbone.
///
/// A `.keras` zip goes the same way: ZIPFoundation 0.9.20 traps on a ZIP64 offset beyond
/// 2^63 (it converts it to `off_t`), which only a child can survive. Its entries are stored
/// uncompressed (Mien refuses others), so the memory limit's file size still bounds them.
enum IsolatedKerasImport {
    /// What the child may use: 1 GiB plus 8 bytes per byte of the files (their weights as
    /// Float, libhdf5's buffers and the graph fit well within that).
    static func memoryLimit(fileBytes: Int) -> Int { (1 << 30) + 8 * fileBytes }

    /// How long the child may take: 10 s plus 1 s per 10 MB (the bundled backbone's 14 MB
    /// import takes 0.13 s; a damaged B-tree can make libhdf5 1.10 loop for ever).
    static func deadline(fileBytes: Int) -> Double { 10 + Double(fileBytes) / 10e6 }

    /// Imports `path` (with `weights`, an architecture and its weights) after checking it in
    /// a child process.
    static func load(_ path: String, weights: String? = nil) throws -> KerasModel {
        try check(path, weights: weights)
        return try weights.map { try KerasModel(architecture: path, weights: $0) } ?? KerasModel(contentsOf: path)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `mien _check-keras` on the files; throws the child's error, or says how it died.
    static func check(_ path: String, weights: String?) throws {
        let bytes = [path, weights].compactMap { $0 }.reduce(0) { $0 + ((try? RegularFile.size($1)) ?? 0) }
        // The HDF5 file, which a crash or a hang is about: the weights of an architecture + weights pair.
        let hdf5 = weights ?? path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["_check-keras", path, "--memory-limit", String(memoryLimit(fileBytes: bytes))]
            + (weights.map { ["--weights", $0] } ?? [])
        // A crash should end the child at once, without the Swift runtime's backtrace.
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFT_BACKTRACE"] = "enable=no"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        do {
            try process.run()
        } catch {
            throw Failure(description: "\(path): cannot start a process to read the file safely: \(error)")
        }
        // Read while waiting, so a chatty child cannot fill the pipe and block.
        let collected = OutputBuffer()
        let reading = DispatchGroup()
        reading.enter()
        DispatchQueue.global().async {
            collected.data = errors.fileHandleForReading.readDataToEndOfFile()
            reading.leave()
        }
        let seconds = deadline(fileBytes: bytes)
        if done.wait(timeout: .now() + seconds) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            done.wait()
            throw Failure(description: "\(hdf5): reading the file took more than \(Int(seconds)) s (corrupt HDF5 structures?); stopped")
        }
        reading.wait()
        let text = String(decoding: collected.data, as: UTF8.self)
        switch (process.terminationReason, process.terminationStatus) {
        case (.exit, 0):
            return
        case (.exit, 1):
            // The child's own one-line error, which names the file.
            let line = text.split(separator: "\n").first { $0.hasPrefix("error: ") }
            throw Failure(description: line.map { String($0.dropFirst("error: ".count)) }
                          ?? "\(path): the file cannot be read")
        case (.uncaughtSignal, SIGILL), (.uncaughtSignal, SIGTRAP):
            // A Swift trap: a check of Mien's own or of a Swift library it uses (ZIPFoundation)
            // failed, not libhdf5.
            throw Failure(description: "\(hdf5): reading the file stopped on a failed check in Mien or a library it uses (a trap): the file is corrupt, and this is a bug worth reporting with it")
        case (.uncaughtSignal, let signal):
            let name = signal == SIGSEGV ? "a segmentation fault" : signal == SIGBUS ? "a bus error"
                : signal == SIGABRT ? "an abort" : signal == SIGKILL ? "being killed (out of memory?)" : "signal \(signal)"
            throw Failure(description: "\(hdf5): the HDF5 library crashed reading the file (\(name)): the file is corrupt")
        case (_, let status):
            throw Failure(description: "\(hdf5): reading the file failed (exit status \(status): out of the \(memoryLimit(fileBytes: bytes) >> 20) MiB allowed, or corrupt)")
        }
    }

    /// The child's stderr, written by the reading thread and read after it is done.
    private final class OutputBuffer: @unchecked Sendable {
        var data = Data()
    }
}

/// `mien _check-keras`: imports a Keras file and exits 0, or prints its error and exits 1;
/// run by `IsolatedKerasImport` in a child process under a memory limit.
struct CheckKeras: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_check-keras", abstract: "Import a Keras file in isolation (used by mien itself).",
        shouldDisplay: false)

    @Argument var model: String
    @Option var weights: String?
    @Option var memoryLimit: Int

    func run() throws {
        // Before the file is touched: an allocation past the limit fails instead of swapping.
        // Not under AddressSanitizer (tools/asan_tests.sh), which reserves terabytes of
        // address space for its shadow memory and could not run under the limit.
        if dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") == nil {   // RTLD_DEFAULT
            var limit = rlimit(rlim_cur: rlim_t(memoryLimit), rlim_max: rlim_t(memoryLimit))
            setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
        }
        try reportingErrors {
            _ = try weights.map { try KerasModel(architecture: model, weights: $0) } ?? KerasModel(contentsOf: model)
        }
    }
}
