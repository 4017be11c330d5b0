import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// REST calls of the wire contract, with URLSession.
struct RestClient: Sendable {
    let base: String

    struct Failure: Error, CustomStringConvertible {
        let description: String
        var status = 0
    }

    /// One request; a 503 (the database is away: the contract's "try again") is
    /// retried for up to half a minute before it fails the scenario.
    func call(_ method: String, _ path: String, token: String? = nil, body: [String: Any]? = nil) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let (data, response) = try await Self.send(request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            if status == 503, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
                continue
            }
            let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            guard (200..<300).contains(status) else {
                throw Failure(description: "\(method) \(path): \(status) \(String(decoding: data, as: UTF8.self))", status: status)
            }
            return json
        }
    }

    /// The request in a task of its own, which the caller's cancellation does not
    /// reach: cancelling a URLSession task while its answer completes deadlocks
    /// swift-corelibs-foundation (seen when one of a task group's requests failed
    /// and the group cancelled the others: the bench hung for good).
    private static func send(_ request: URLRequest) async throws -> (Data, URLResponse) {
        try await Task { try await URLSession.shared.data(for: request) }.value
    }

    /// Registers a user (or logs in when it exists) and returns its token and id.
    func user(_ name: String) async throws -> (token: String, id: String) {
        let body: [String: Any] = ["username": name, "password": "bench-password-1"]
        let r: [String: Any]
        do {
            r = try await call("POST", "/api/auth/register", body: body)
        } catch let failure as Failure where failure.status == 409 {
            r = try await call("POST", "/api/auth/login", body: body)
        }
        return (r["token"] as! String, (r["user"] as! [String: Any])["id"] as! String)
    }

    func createRoom(_ token: String, name: String) async throws -> String {
        ((try await call("POST", "/api/rooms", token: token, body: ["name": name]))["room"] as! [String: Any])["id"] as! String
    }

    func join(_ token: String, room: String) async throws { _ = try await call("POST", "/api/rooms/\(room)/join", token: token) }
}

/// Resident memory of a process, from /proc, in bytes.
func residentBytes(pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return nil }
    let kb = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }
    return kb.map { $0 * 1024 }
}

/// The send time carried in a bench message's text: `t=<nanoseconds>;`.
enum Stamp {
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    static func text(padding: Int) -> String { "t=\(now());" + String(repeating: "x", count: padding) }

    /// Finds `t=<digits>;` inside a frame without parsing the JSON.
    static func read(_ frame: BenchFrame) -> UInt64? { frame.number(after: "\"text\":\"t=") }
}
