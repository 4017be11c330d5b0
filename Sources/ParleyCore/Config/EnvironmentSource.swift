import Foundation

/// Where configuration values come from: the process environment first, then a
/// `.env` file (`KEY=value` lines, `#` comments, optional quotes, optional `export`).
/// The environment wins, so a deployment can override anything the file says.
public struct EnvironmentSource: Sendable {
    public let values: [String: String]

    public init(values: [String: String]) { self.values = values }

    /// The process environment over the `.env` file at `dotEnvPath`, when it exists.
    public static func load(dotEnvPath: String = ".env", environment: [String: String] = ProcessInfo.processInfo.environment) -> EnvironmentSource {
        var merged: [String: String] = [:]
        if let text = try? String(contentsOfFile: dotEnvPath, encoding: .utf8) {
            merged = parseDotEnv(text)
        }
        merged.merge(environment) { _, env in env }
        return EnvironmentSource(values: merged)
    }

    /// Parses `.env` text. Malformed lines are ignored, as shells and docker do.
    public static func parseDotEnv(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)) }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
                value = String(value.dropFirst().dropLast())
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            guard !key.isEmpty else { continue }
            out[key] = value
        }
        return out
    }

    /// The raw value of `key`, nil when unset or empty.
    public subscript(key: String) -> String? {
        guard let v = values[key], !v.isEmpty else { return nil }
        return v
    }
}
