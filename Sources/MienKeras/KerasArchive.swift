import Foundation
import MienFiles
import MienHDF5
import MienKerasConfig
import ZIPFoundation

/// A `.keras` file, `model.save("x.keras")`'s format in Keras 3 (and tf.keras 2.13+): a zip
/// of `config.json` (the serialized model), `metadata.json` (`keras_version`, `date_saved`)
/// and `model.weights.h5` (the weights, laid out as in a `.weights.h5`), as Keras's
/// `saving_lib` writes and reads it.
///
/// The file is untrusted. Every entry Mien reads must be a file stored uncompressed, as
/// Keras stores them, declare a size within its limit and within the archive, and give
/// exactly that many bytes with the declared CRC-32; anything else is a `KerasError` that
/// names the file and the entry, raised before the entry's memory is allocated.
struct KerasArchive {
    static let configName = "config.json"
    static let metadataName = "metadata.json"
    static let weightsName = "model.weights.h5"

    /// The largest `metadata.json` read (Keras writes about 64 bytes).
    static let maxMetadataBytes = 1 << 20
    /// The largest `model.weights.h5` read: 4 bytes for each of the 2^30 weights that a
    /// file's `WeightBudget` allows at most, plus 1 GiB for HDF5's own structures.
    static let maxWeightsBytes = (1 << 32) + (1 << 30)

    let path: String
    /// The archive's size on disk.
    let fileSize: Int
    private let archive: Archive
    private let entries: [String: Entry]

    /// Opens the zip at `path` and finds Keras's three entries (all required).
    init(path: String) throws {
        self.path = path
        func fail(_ message: String) -> KerasError { KerasError(.notAModel, file: path, message) }
        // A FIFO or a folder is refused here: ZIPFoundation's fopen would block on a FIFO.
        do {
            fileSize = try RegularFile.size(path)
        } catch let error as FileError {
            throw fail(error.message)
        }
        // ZIPFoundation looks for the end record backwards through the whole file, one
        // byte at a time: a large file without one (a truncated download) would take
        // minutes. The zip format puts it within the last 64 KiB + 22 bytes.
        guard Self.hasEndRecord(path, size: fileSize) else {
            throw KerasError(.archive, file: path, "not a complete zip archive (truncated?): no end of central directory record")
        }
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw KerasError(.archive, file: path, "not a readable zip archive (truncated or corrupt?): \(Self.describe(error))")
        }
        var entries: [String: Entry] = [:]
        for entry in archive {
            // Keras's reader (Python's zipfile) would take the last of two, ZIPFoundation the first.
            guard entries[entry.path] == nil else {
                throw KerasError(.archive, file: path, "the archive holds two entries named '\(entry.path)'")
            }
            entries[entry.path] = entry
        }
        if entries[Self.weightsName] == nil, entries["model.weights.npz"] != nil {
            throw fail("its weights are in model.weights.npz (saved with weights_format=\"npz\"); Mien reads model.weights.h5, what model.save(\"x.keras\") writes by default")
        }
        for name in [Self.configName, Self.metadataName, Self.weightsName] where entries[name] == nil {
            throw fail("the archive has no \(name): not a Keras model saved with model.save(\"x.keras\")")
        }
        self.entries = entries
    }

    /// Whether the file at `path` starts with a zip signature (false if it cannot be read):
    /// how a `.keras` file is told from an `.h5` or a `.mien`, whatever its name.
    static func isArchive(_ path: String) -> Bool {
        guard let (fd, size) = try? RegularFile.open(path) else { return false }
        defer { close(fd) }
        guard size >= 4 else { return false }
        var head = [UInt8](repeating: 0, count: 4)
        guard head.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 4, 0) }) == 4 else { return false }
        // A local file header, or the end record of an archive without entries.
        return head == [0x50, 0x4B, 0x03, 0x04] || head == [0x50, 0x4B, 0x05, 0x06]
    }

    // MARK: Entries

    /// The model's config (`config.json`), parsed.
    func config() throws -> JSON {
        let text = try text(Self.configName, limit: KerasModel.maxConfigBytes)
        do {
            return try JSON(parsing: text)
        } catch {
            throw KerasError(.invalidConfig, file: path, "\(Self.configName) is not valid JSON: \(error)")
        }
    }

    /// `metadata.json`'s `keras_version`: which Keras wrote the config, and so what its
    /// names mean (`hard_sigmoid` differs between tf.keras 2 and Keras 3).
    func kerasVersion() throws -> String {
        let text = try text(Self.metadataName, limit: Self.maxMetadataBytes)
        guard let metadata = try? JSON(parsing: text), let version = metadata["keras_version"]?.string else {
            throw KerasError(.invalidConfig, file: path, "\(Self.metadataName) does not name a keras_version")
        }
        return version
    }

    /// `model.weights.h5`, opened in memory.
    func weights() throws -> HDF5File {
        let image = try bytes(Self.weightsName, limit: Self.maxWeightsBytes)
        do {
            return try HDF5File(image: image, name: "\(path)/\(Self.weightsName)")
        } catch let error as HDF5Error {
            throw KerasError(.hdf5, file: path, "\(Self.weightsName): \(error.message)")
        }
    }

    private func text(_ name: String, limit: Int) throws -> String {
        guard let text = String(validating: try bytes(name, limit: limit), as: UTF8.self) else {
            throw KerasError(.invalidConfig, file: path, "\(name) is not UTF-8 text")
        }
        return text
    }

    /// The bytes of entry `name`, each size checked before anything is allocated.
    func bytes(_ name: String, limit: Int) throws -> [UInt8] {
        func fail(_ message: String) -> KerasError { KerasError(.archive, file: path, "\(name): \(message)") }
        guard let entry = entries[name] else { throw fail("no such entry in the archive") }
        guard entry.type == .file else {
            throw fail("is a \(entry.type == .directory ? "folder" : "symbolic link"), not a file")
        }
        let declared = entry.uncompressedSize
        guard declared <= UInt64(limit) else {
            throw fail("declares \(declared) bytes, more than the \(limit)-byte limit")
        }
        // ZIPFoundation 0.9.20's inflate on Linux reads on past the entry, and loops for ever
        // once a deflate stream meets the end of the file unfinished; Keras never compresses
        // its entries, and a zip bomb needs compression.
        guard !entry.isCompressed else {
            throw fail("is compressed; Keras stores the entries of a .keras file uncompressed, and Mien reads only those (re-save the model with Keras, or re-zip it with `zip -0`)")
        }
        guard entry.compressedSize == declared else {
            throw fail("declares \(declared) bytes but stores \(entry.compressedSize) (corrupt?)")
        }
        guard declared <= UInt64(fileSize) else {
            throw fail("declares \(declared) bytes, more than the \(fileSize)-byte archive holds (corrupt?)")
        }
        let size = Int(declared)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        let checksum: CRC32
        do {
            checksum = try archive.extract(entry, bufferSize: 1 << 16) { chunk in
                guard bytes.count + chunk.count <= size else { throw Overrun() }
                chunk.withUnsafeBytes { bytes.append(contentsOf: $0.bindMemory(to: UInt8.self)) }
            }
        } catch is Overrun {
            throw fail("holds more than the \(size) bytes it declares (corrupt?)")
        } catch {
            throw fail("cannot be read (corrupt archive?): \(Self.describe(error))")
        }
        guard bytes.count == size else {
            throw fail("holds \(bytes.count) of the \(size) bytes it declares (truncated?)")
        }
        guard checksum == entry.checksum else { throw fail("its CRC-32 does not match (corrupt?)") }
        return bytes
    }

    private struct Overrun: Error {}

    // MARK: Writing

    /// Writes `entries` (name, bytes) as a zip at `path`, each stored uncompressed as Keras
    /// stores them. Atomic (`AtomicFile`): the zip is built in memory, written to a
    /// temporary file beside `path`, which `verify` reads back before it is renamed.
    static func write(_ entries: [(name: String, bytes: [UInt8])], to path: String,
                      verify: (String) throws -> Void) throws {
        let data: Data
        do {
            let archive = try Archive(accessMode: .create)
            let now = Date()
            for (name, bytes) in entries {
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(bytes.count),
                                     modificationDate: now, compressionMethod: .none) { position, size in
                    Data(bytes[Int(position)..<Int(position) + size])
                }
            }
            guard let built = archive.data else { throw Archive.ArchiveError.unwritableArchive }
            data = built
        } catch {
            throw KerasError(.archive, file: path, "cannot build the zip archive: \(describe(error))")
        }
        do {
            try withoutActuallyEscaping(verify) { verify in
                try AtomicFile.write(to: path, contents: { fd, temporaryPath in
                    try data.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path, temporaryPath: temporaryPath) }
                }, verify: verify)
            }
        } catch let error as FileError {
            throw KerasError(.archive, file: path, "cannot write the file: \(error.message)")
        }
    }

    /// Whether the last 64 KiB + 22 bytes of the file hold the zip end record's signature
    /// where ZIPFoundation looks for it (at least 22 bytes before the end).
    private static func hasEndRecord(_ path: String, size: Int) -> Bool {
        let recordSize = 22
        guard size >= recordSize, let (fd, _) = try? RegularFile.open(path) else { return false }
        defer { close(fd) }
        let start = max(0, size - recordSize - 0xFFFF)
        var tail = [UInt8](repeating: 0, count: size - start)
        let read = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        guard read == tail.count else { return false }
        let last = tail.count - recordSize
        return (0...last).contains { i in
            tail[i] == 0x50 && tail[i + 1] == 0x4B && tail[i + 2] == 0x05 && tail[i + 3] == 0x06
        }
    }

    /// ZIPFoundation's errors as a short phrase.
    static func describe(_ error: Error) -> String {
        if let error = error as? Archive.ArchiveError {
            switch error {
            case .missingEndOfCentralDirectoryRecord: return "no end of central directory record"
            case .invalidCRC32: return "CRC-32 mismatch"
            case .invalidCompressionMethod: return "unknown compression method"
            case .invalidEntrySize, .invalidLocalHeaderSize, .invalidLocalHeaderDataOffset,
                 .invalidCentralDirectoryOffset, .invalidCentralDirectorySize, .invalidCentralDirectoryEntryCount:
                return "sizes or offsets out of range"
            default: return "\(error)"
            }
        }
        if let error = error as? POSIXError { return error.localizedDescription }
        return "\(error)"
    }
}
