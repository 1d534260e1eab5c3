import ArgumentParser
import Foundation
import MienNN

@main
struct Mien: ParsableCommand {
    static func main() {
        BLASKernels.restartWithBetterKernelsIfNeeded()
        Allocator.keepFreedBuffersForReuse()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // Help and version requests, and errors already printed, end as ArgumentParser ends them.
            let code = exitCode(for: error)
            if code == .success || error is ExitCode { exit(withError: error) }
            // A wrong option: one line, like every other error of mien.
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let names = configuration.subcommands.map { $0._commandName }
            let command = CommandLine.arguments.dropFirst().first { names.contains($0) }.map { "mien \($0)" } ?? "mien"
            FileHandle.standardError.write(Data("error: \(message) (see \(command) --help)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "mien",
        abstract: "Transfer learning from Keras checkpoints, in Swift.",
        version: MienVersion.current,
        subcommands: [Inspect.self, Export.self, Predict.self, Serve.self, Align.self, Train.self, Evaluate.self, Bench.self, CheckKeras.self])
}

enum MienVersion {
    static let current = "0.1.0"
}

/// Runs a command body; a library error is printed as `error: ...` on stderr and the
/// process exits with status 1 instead of trapping.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}
