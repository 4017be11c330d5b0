import Foundation

/// Finds the files `parley` and `parleyctl` ship with (`migrations/`, `Public/`,
/// `docs/openapi.yaml`) wherever the binary is started from: in the working directory
/// (a checkout), beside the binary (an install: `scripts/cluster.sh` copies them
/// there), in `../share/parley/` of the binary's directory, or in the checkout the
/// binary was built in (`.build/<triple>/<configuration>/parley`).
public enum ResourceLocator {
    /// The directory of the running executable, symlinks resolved.
    public static var executableDirectory: URL? {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if FileManager.default.fileExists(atPath: exe.path) && exe.path != "/proc/self/exe" { return exe.deletingLastPathComponent() }
        return Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// Where `relative` (a path such as `migrations`) is, or nil; the working
    /// directory first unless `inWorkingDirectory` is false.
    public static func find(_ relative: String, from executableDirectory: URL? = executableDirectory, inWorkingDirectory: Bool = true) -> String? {
        let fm = FileManager.default
        if inWorkingDirectory, fm.fileExists(atPath: relative) { return relative }
        guard let dir = executableDirectory else { return nil }
        var candidates = [dir.appendingPathComponent(relative), dir.appendingPathComponent("../share/parley").appendingPathComponent(relative)]
        // A build inside a checkout: walk up to the directory with Package.swift.
        var up = dir
        for _ in 0..<6 {
            up = up.deletingLastPathComponent()
            if fm.fileExists(atPath: up.appendingPathComponent("Package.swift").path) {
                candidates.append(up.appendingPathComponent(relative))
                break
            }
        }
        return candidates.map(\.standardizedFileURL.path).first { fm.fileExists(atPath: $0) }
    }
}
