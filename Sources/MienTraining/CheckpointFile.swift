import Foundation
import MienFiles
import MienModelFile
import MienNN

/// A checkpoint as one safetensors file: the numbers (weights, best weights, optimizer slots)
/// as F32 tensors named by role and key path, everything else as JSON in the metadata entry
/// `mien.checkpoint`. An unfrozen backbone's Adam state is tens of megabytes of floats, which
/// JSON would triple and slow down.
enum CheckpointFile {
    static let metadataKey = "mien.checkpoint"

    /// Writes atomically; the file is read back and compared before it replaces `path`.
    static func write<Meta: Codable & Equatable>(_ meta: Meta, tensors: [String: Tensor], to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json: String
        do {
            json = String(decoding: try encoder.encode(meta), as: UTF8.self)
        } catch {
            throw TrainingSetupError("\(path): cannot encode the checkpoint (\(error))")
        }
        let ordered = tensors.keys.sorted().map { (name: $0, tensor: tensors[$0]!) }
        try SafeTensorsWriter.write(ordered, metadata: [metadataKey: json], to: path) { written in
            let (readMeta, readTensors) = try read(Meta.self, from: written)
            guard readMeta == meta, readTensors == tensors else {
                throw TrainingSetupError("\(path): the written checkpoint does not read back as what was written")
            }
        }
    }

    static func read<Meta: Codable>(_ type: Meta.Type, from path: String) throws -> (Meta, [String: Tensor]) {
        try read(type, file: try SafeTensorsFile(path: path))
    }

    static func read<Meta: Codable>(_ type: Meta.Type, file: SafeTensorsFile) throws -> (Meta, [String: Tensor]) {
        let path = file.path
        guard let json = file.metadata[metadataKey] else {
            throw TrainingSetupError("\(path): not a Mien checkpoint (no '\(metadataKey)' metadata)")
        }
        let meta: Meta
        do {
            meta = try JSONDecoder().decode(Meta.self, from: Data(json.utf8))
        } catch {
            throw TrainingSetupError("\(path): the checkpoint's metadata is not readable (\(error))")
        }
        var tensors: [String: Tensor] = [:]
        for info in file.tensors { tensors[info.name] = try file.tensor(info.name) }
        return (meta, tensors)
    }

    /// `values` under `prefix/`.
    static func pack(_ values: [String: Tensor], _ prefix: String) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: values.map { ("\(prefix)/\($0.key)", $0.value) })
    }

    /// The tensors under `prefix/`, by the rest of their name.
    static func unpack(_ tensors: [String: Tensor], _ prefix: String) -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, value) in tensors where name.hasPrefix(prefix + "/") {
            out[String(name.dropFirst(prefix.count + 1))] = value
        }
        return out
    }

}

extension OptimizerState {
    /// The state with its slots' values emptied (names kept), and the values as 1-D tensors
    /// `prefix/slot/keypath`.
    func split(_ prefix: String) -> (OptimizerState, [String: Tensor]) {
        var meta = self
        var tensors: [String: Tensor] = [:]
        for (slot, byPath) in slots {
            for (path, values) in byPath { tensors["\(prefix)/\(slot)/\(path)"] = Tensor(shape: [values.count], scalars: values) }
        }
        meta.slots = slots.mapValues { $0.mapValues { _ in [] } }
        return (meta, tensors)
    }

    /// Fills the values of a state made by `split` back in (a missing tensor leaves the slot
    /// empty, which the optimizer refuses as a wrong size).
    func joined(_ tensors: [String: Tensor], _ prefix: String) -> OptimizerState {
        var state = self
        state.slots = slots.reduce(into: [:]) { out, slot in
            out[slot.key] = slot.value.keys.reduce(into: [:]) { $0[$1] = tensors["\(prefix)/\(slot.key)/\($1)"]?.scalars ?? [] }
        }
        return state
    }
}

/// The JSON half of a `ModelFitState` (its tensors go beside it).
struct ModelFitMeta: Codable, Equatable {
    var options: FitOptions
    var optimizer: OptimizerState   // slot values emptied
    var nextEpoch: Int
    var history: History
    var hasBest: Bool
    var bestValLoss: Float?
    var wait: Int
    var stopped: Bool
}

extension ModelFitState {
    func split(_ prefix: String) -> (ModelFitMeta, [String: Tensor]) {
        let (optimizer, slots) = self.optimizer.split("\(prefix)/slots")
        var tensors = CheckpointFile.pack(weights, "\(prefix)/weights").merging(slots) { a, _ in a }
        if let bestWeights { tensors.merge(CheckpointFile.pack(bestWeights, "\(prefix)/best")) { a, _ in a } }
        return (ModelFitMeta(options: options, optimizer: optimizer,
                             nextEpoch: nextEpoch, history: history, hasBest: bestWeights != nil,
                             bestValLoss: bestValLoss, wait: wait, stopped: stopped), tensors)
    }

    init(_ meta: ModelFitMeta, tensors: [String: Tensor], _ prefix: String) {
        self.init(options: meta.options, optimizer: meta.optimizer.joined(tensors, "\(prefix)/slots"), nextEpoch: meta.nextEpoch, history: meta.history,
                  weights: CheckpointFile.unpack(tensors, "\(prefix)/weights"),
                  bestWeights: meta.hasBest ? CheckpointFile.unpack(tensors, "\(prefix)/best") : nil,
                  bestValLoss: meta.bestValLoss, wait: meta.wait, stopped: meta.stopped)
    }
}

extension TrainerState {
    /// The head's state as JSON without its numbers, and the numbers as tensors.
    func split(_ prefix: String) -> (TrainerState, [String: Tensor]) {
        var meta = self
        var tensors: [String: Tensor] = [:]
        for (name, values) in weights { tensors["\(prefix)/weights/\(name)"] = Tensor(shape: [values.count], scalars: values) }
        for (name, values) in bestWeights ?? [:] { tensors["\(prefix)/best/\(name)"] = Tensor(shape: [values.count], scalars: values) }
        let slots: [String: Tensor]
        (meta.optimizer, slots) = optimizer.split("\(prefix)/slots")
        tensors.merge(slots) { a, _ in a }
        meta.weights = weights.mapValues { _ in [] }
        meta.bestWeights = bestWeights?.mapValues { _ in [] }
        return (meta, tensors)
    }

    /// Fills the numbers of a state made by `split` back in.
    func joined(_ tensors: [String: Tensor], _ prefix: String) -> TrainerState {
        var state = self
        state.weights = weights.keys.reduce(into: [:]) { $0[$1] = tensors["\(prefix)/weights/\($1)"]?.scalars ?? [] }
        state.bestWeights = bestWeights.map { best in
            best.keys.reduce(into: [:]) { $0[$1] = tensors["\(prefix)/best/\($1)"]?.scalars ?? [] }
        }
        state.optimizer = optimizer.joined(tensors, "\(prefix)/slots")
        return state
    }
}
