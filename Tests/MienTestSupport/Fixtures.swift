import Foundation

/// Paths of the committed golden files under `Tests/Fixtures`.
public enum Fixtures {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func path(_ relative: String) -> String {
        root.appendingPathComponent(relative).path
    }

    /// The package's root folder (for running the built `mien` tool).
    public static let packageRoot: URL = root.deletingLastPathComponent().deletingLastPathComponent()
}
