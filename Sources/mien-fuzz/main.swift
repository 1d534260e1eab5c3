// mien-fuzz TARGET [libFuzzer flags...] [CORPUS_DIR|FILE...]
//
// Built normally (as CI builds every target) it replays: each FILE, or every file in each
// folder, goes through TARGET once and gets one line on stdout; with no files it reads
// stdin. Arguments starting with '-' (libFuzzer flags) are ignored in this mode.
//
// Built with -DMIEN_LIBFUZZER and -sanitize=fuzzer (tools/fuzz.sh) it hands everything
// after TARGET to libFuzzer's driver, which fuzzes, or replays files given as arguments.
// Without a TARGET argument, the environment variable MIEN_FUZZ_TARGET names it.

import Foundation
import MienFuzz
import MienNN

#if MIEN_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32
#endif

/// The target libFuzzer's C callback calls (it cannot capture anything).
enum Chosen {
    nonisolated(unsafe) static var target: (UnsafeRawBufferPointer) -> Void = { _ in }
}

func usage() -> Never {
    let text = """
        usage: mien-fuzz TARGET [libFuzzer flags...] [CORPUS_DIR|FILE...]
        targets: \(FuzzTargets.names.joined(separator: ", "))

        """
    FileHandle.standardError.write(text.data(using: .utf8)!)
    exit(2)
}

// The target is the first argument, or else MIEN_FUZZ_TARGET: libFuzzer's -fork and -jobs
// modes start child processes with the driver's arguments only (no TARGET), so the parent
// passes the target to them in the environment.
let environmentVariable = "MIEN_FUZZ_TARGET"
var arguments = CommandLine.arguments
if arguments.count < 2 || FuzzTargets.all[arguments[1]] == nil,
   let inherited = ProcessInfo.processInfo.environment[environmentVariable], !inherited.isEmpty {
    arguments.insert(inherited, at: 1)
}
guard arguments.count >= 2, !arguments[1].hasPrefix("-") else { usage() }
let name = arguments[1]
guard let target = FuzzTargets.all[name] else {
    FileHandle.standardError.write("mien-fuzz: unknown target '\(name)'\n".data(using: .utf8)!)
    usage()
}
Chosen.target = target

#if MIEN_LIBFUZZER

setenv(environmentVariable, name, 1)
// argv without TARGET, NUL-terminated strings that live until exit.
var driverArguments: [UnsafeMutablePointer<CChar>?] = ([arguments[0]] + arguments.dropFirst(2)).map { strdup($0) }
driverArguments.append(nil)
var argc = Int32(driverArguments.count - 1)
let argvStorage = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: driverArguments.count)
argvStorage.initialize(from: driverArguments, count: driverArguments.count)
var argv = argvStorage
let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    Chosen.target(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}
exit(status)

#else

/// The files to replay: files as given, folders' regular files sorted by name (not recursive).
func inputs(_ paths: [String]) -> [String] {
    var files: [String] = []
    let manager = FileManager.default
    for path in paths {
        var isFolder: ObjCBool = false
        guard manager.fileExists(atPath: path, isDirectory: &isFolder) else {
            FileHandle.standardError.write("mien-fuzz: no such file or folder: \(path)\n".data(using: .utf8)!)
            exit(2)
        }
        if isFolder.boolValue {
            let names = (try? manager.contentsOfDirectory(atPath: path)) ?? []
            for entry in names.sorted() where !entry.hasPrefix(".") {
                let full = (path as NSString).appendingPathComponent(entry)
                var sub: ObjCBool = false
                if manager.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue { files.append(full) }
            }
        } else {
            files.append(path)
        }
    }
    return files
}

/// Unbuffered stdout.
func say(_ text: String) {
    FileHandle.standardOutput.write(text.data(using: .utf8)!)
}

func replay(_ label: String, _ bytes: [UInt8]) {
    // The file's name goes out before the run, so a crash leaves it on the last line.
    say("\(name) \(label) (\(bytes.count) bytes)")
    let start = ContinuousClock.now
    bytes.withUnsafeBytes { Chosen.target($0) }
    let ms = (ContinuousClock.now - start).seconds * 1000
    say(": ok, \(FuzzTargets.lastOutcome.rawValue), \(String(format: "%.1f", ms)) ms\n")
}

let paths = arguments.dropFirst(2).filter { !$0.hasPrefix("-") }
if paths.isEmpty {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    replay("<stdin>", [UInt8](data))
} else {
    let files = inputs(Array(paths))
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else {
            FileHandle.standardError.write("mien-fuzz: cannot read \(file)\n".data(using: .utf8)!)
            exit(2)
        }
        replay(file, [UInt8](data))
    }
    say("replayed \(files.count) file(s) through \(name)\n")
}

#endif
