import Foundation
import Mongo
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("REST: users")
struct UserRoutesTests {
    /// The usernames of a `{"users": [...]}` body, in its order.
    static func names(_ r: Reply) throws -> [String] { try r.decode(Wire.Users.self).users.map(\.username) }

    @Test("search: case-insensitive, prefix matches first, then substrings of username or display name")
    func search() async throws {
        try await RestHarness.with { api in
            let (token, _) = try await api.register("searcher")
            for (name, display) in [("annabel", "Annabel"), ("joanna", "Jo"), ("ann", "Ann"), ("bob", "Bob Annex"), ("zed", "Zed")] {
                try await api.register(name, displayName: display)
            }
            let r = try await api.call(.get, "/api/users/search?q=ANN", token: token)
            #expect(r.status == 200)
            #expect(try Self.names(r) == ["ann", "annabel", "bob", "joanna"])
            let path = try await api.call(.get, "/api/users/search/ann?limit=2", token: token)
            #expect(try Self.names(path) == ["ann", "annabel"])
        }
    }

    @Test("search input is text: regex characters match literally, operators are refused")
    func searchInjection() async throws {
        try await RestHarness.with { api in
            let (token, _) = try await api.register("a.b-c")
            try await api.register("axbyc")
            let dot = try await api.call(.get, "/api/users/search?q=a.b", token: token)
            #expect(try Self.names(dot) == ["a.b-c"])
            let star = try await api.call(.get, "/api/users/search?q=.*", token: token)
            #expect(try Self.names(star).isEmpty)
            let brace = try await api.call(.get, "/api/users/search?q=%7B%22%24gt%22%3A%22%22%7D", token: token)
            #expect(try brace.status == 200 && Self.names(brace).isEmpty)
            #expect(try await api.call(.get, "/api/users/search?q=", token: token).status == 400)
            #expect(try await api.call(.get, "/api/users/search", token: token).status == 400)
            #expect(try await api.call(.get, "/api/users/search?q=a&limit=0", token: token).status == 400)
            #expect(try await api.call(.get, "/api/users/search?q=a&limit=x", token: token).status == 400)
            #expect(try await api.call(.get, "/api/users/search?q=a").status == 401)
        }
    }

    @Test("lookup by id: 200, 404 for an unknown or malformed id, 401 without a token")
    func lookup() async throws {
        try await RestHarness.with { api in
            let (token, id) = try await api.register("henry")
            let r = try await api.call(.get, "/api/users/\(id)", token: token)
            let henry = try r.decode(Wire.UserData.self).user
            #expect(r.status == 200 && henry.id == id && henry.username == "henry" && !henry.online && henry.status == "offline")
            #expect(try await api.call(.get, "/api/users/\(ObjectId().hex)", token: token).status == 404)
            #expect(try await api.call(.get, "/api/users/not-an-id", token: token).status == 404)
            #expect(try await api.call(.get, "/api/users/\(id)").status == 401)
        }
    }

    @Test("online: users with an open connection on this node")
    func online() async throws {
        try await RestHarness.with { api in
            let (token, _) = try await api.register("ivy")
            let r = try await api.call(.get, "/api/users/online", token: token)
            #expect(try r.status == 200 && Self.names(r).isEmpty)
        }
    }

    @Test("POST /api/users: admins only; 201, 409 for a taken name, 400 for a bad role")
    func adminCreate() async throws {
        try await RestHarness.with { api in
            let (userToken, _) = try await api.register("plain")
            let accounts = AccountService(users: api.repos.users, hasher: PasswordHasher(cost: 4))
            _ = try await accounts.createUser(username: "root", password: "password123", role: .admin)
            let login = try await api.call(.post, "/api/auth/login", json: #"{"username": "root", "password": "password123"}"#)
            let adminToken = try login.decode(Wire.Session.self).token
            let body = #"{"username": "newbie", "password": "password123", "role": "admin"}"#
            let denied = try await api.call(.post, "/api/users", token: userToken, json: body)
            #expect(denied.status == 403 && denied.errorCode == "forbidden")
            #expect(try await api.call(.post, "/api/users", json: body).status == 401)
            let created = try await api.call(.post, "/api/users", token: adminToken, json: body)
            #expect(try created.status == 201 && created.decode(Wire.UserData.self).user.username == "newbie")
            #expect(try await api.repos.users.find(username: "newbie")?.role == .admin)
            #expect(try await api.call(.post, "/api/users", token: adminToken, json: body).status == 409)
            let badRole = try await api.call(.post, "/api/users", token: adminToken, json: #"{"username": "x1x", "password": "password123", "role": "root"}"#)
            #expect(badRole.status == 400)
        }
    }
}

@Suite("Rate limiter")
struct RateLimiterTests {
    final class FakeClock: @unchecked Sendable {
        // @unchecked: mutated only by the test's single task.
        var now = 0.0
    }

    @Test("a bucket allows its burst, then refills at its rate, per key")
    func bucket() throws {
        let clock = FakeClock()
        let limiter = RateLimiter(ratePerSecond: 2, burst: 3, clock: { clock.now })
        for _ in 0..<3 { try limiter.consume("a") }
        do {
            try limiter.consume("a")
            Issue.record("burst exceeded")
        } catch let e as ParleyError {
            #expect(e.code == .rateLimited && e.retryAfterMs == 500)
        }
        try limiter.consume("b")
        clock.now = 0.5
        try limiter.consume("a")
        #expect(throws: ParleyError.self) { try limiter.consume("a") }
    }
}
