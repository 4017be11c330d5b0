import Foundation

/// Paths inside the repository, found from this source file, so tests run from any
/// working directory.
public enum RepoPaths {
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static var migrations: String { root + "/migrations" }
}
