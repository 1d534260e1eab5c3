#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The temporary files being written, removed if the process is stopped by SIGINT, SIGTERM
/// or SIGHUP: a run killed while it saves a checkpoint or a model leaves neither the old file
/// damaged (the rename never happened) nor a hidden `.NAME.tmp-*` beside it.
///
/// The handler may only call async-signal-safe functions, so the paths are kept as C
/// strings in fixed slots that it reads without a lock (each slot is set whole before it is
/// published and cleared before it is freed).
public enum TemporaryFiles {
    private static let capacity = 64
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
        return slots
    }()
    nonisolated(unsafe) private static var lock = pthread_mutex_t()
    private static let installed: Void = {
        pthread_mutex_init(&lock, nil)
        for signal in [SIGINT, SIGTERM, SIGHUP] { installHandler(signal) }
    }()

    /// Registers `path` until `remove(_:)`; returns its slot, or nil when all slots are
    /// taken (the file is then only removed on errors, as before).
    public static func register(_ path: String) -> Int? {
        _ = installed
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for i in 0..<capacity where slots[i] == nil {
            slots[i] = strdup(path)
            return i
        }
        return nil
    }

    /// Forgets the file in `slot` (it was renamed or removed).
    public static func remove(_ slot: Int?) {
        guard let slot else { return }
        pthread_mutex_lock(&lock)
        let path = slots[slot]
        slots[slot] = nil
        pthread_mutex_unlock(&lock)
        free(path)
    }

    /// Unlinks every registered file; called from the signal handler.
    static func unlinkAll() {
        for i in 0..<capacity {
            if let path = slots[i] { unlink(path) }
        }
    }

    private static func installHandler(_ signalNumber: Int32) {
        var action = sigaction()
        #if canImport(Darwin)
        action.__sigaction_u.__sa_handler = handleSignal
        #else
        action.__sigaction_handler.sa_handler = handleSignal
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        // A signal the process was told to ignore (nohup) stays ignored.
        var previous = sigaction()
        sigaction(signalNumber, nil, &previous)
        #if canImport(Darwin)
        let handler = previous.__sigaction_u.__sa_handler
        #else
        let handler = previous.__sigaction_handler.sa_handler
        #endif
        let ignored = handler.map { unsafeBitCast($0, to: Int.self) } == unsafeBitCast(SIG_IGN, to: Int.self)
        if !ignored { sigaction(signalNumber, &action, nil) }
    }
}

/// Removes the temporary files, then dies of the same signal (so the exit status says so).
private func handleSignal(_ signalNumber: Int32) {
    TemporaryFiles.unlinkAll()
    signal(signalNumber, SIG_DFL)
    raise(signalNumber)
}
