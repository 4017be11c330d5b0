import Foundation
import Mongo
import Testing

@testable import ParleyCore

@Suite("REST: auth")
struct AuthRoutesTests {
    @Test("register returns 201 with a token and the user, never a password field")
    func register() async throws {
        try await RestHarness.with { api in
            let r = try await api.call(.post, "/api/auth/register", json: #"{"username": "Alice", "password": "password123", "displayName": "Alice A."}"#)
            #expect(r.status == 201)
            let user = try #require(r["user"] as? [String: Any])
            #expect(Set(user.keys) == ["id", "username", "displayName", "status", "online", "lastSeenAt", "createdAt", "guest"])
            #expect(user["guest"] as? Bool == false)
            #expect(user["username"] as? String == "Alice" && user["displayName"] as? String == "Alice A.")
            #expect(user["lastSeenAt"] is NSNull)
            #expect((user["createdAt"] as? String)?.hasSuffix("Z") == true)
            #expect(!String(decoding: r.body, as: UTF8.self).lowercased().contains("password"))
            let session = try r.decode(Wire.Session.self)
            #expect(session.user.username == "Alice" && session.user.displayName == "Alice A." && session.user.lastSeenAt == nil)
            let profile = try await api.call(.get, "/api/auth/profile", token: session.token)
            #expect(try profile.status == 200 && profile.decode(Wire.UserData.self).user.id == session.user.id)
        }
    }

    @Test("a taken username is 409, whatever its case")
    func taken() async throws {
        try await RestHarness.with { api in
            try await api.register("bob")
            let r = try await api.call(.post, "/api/auth/register", json: #"{"username": "BOB", "password": "password123"}"#)
            #expect(r.status == 409 && r.errorCode == "conflict")
        }
    }

    @Test("bad registrations are 400 and store nothing", arguments: [
        #"{"username": "ab", "password": "password123"}"#,
        #"{"username": "ünïcode", "password": "password123"}"#,
        #"{"username": "has space", "password": "password123"}"#,
        #"{"username": "okname", "password": "short"}"#,
        #"{"username": {"$gt": ""}, "password": "password123"}"#,
        #"{"username": "okname", "password": {"$ne": null}}"#,
        #"{"username": ["a"], "password": "password123"}"#,
        #"{"username": "okname"}"#,
        #"{"username": "okname", "password": "password123", "displayName": "   "}"#,
        #"["not", "an", "object"]"#,
        #"{not json"#,
        "",
    ])
    func badRegistrations(body: String) async throws {
        try await RestHarness.with { api in
            let r = try await api.call(.post, "/api/auth/register", json: body)
            #expect(r.status == 400 && r.errorCode == "bad_request", "\(body) -> \(r.status)")
            #expect(try await api.database.collection("users").countDocuments() == 0)
        }
    }

    @Test("login: 200 with the right password, 401 for a wrong one or an unknown user, 400 for operators")
    func login() async throws {
        try await RestHarness.with { api in
            try await api.register("carol", password: "the-password")
            let ok = try await api.call(.post, "/api/auth/login", json: #"{"username": "CAROL", "password": "the-password"}"#)
            #expect(ok.status == 200 && ok["token"] is String)
            let wrong = try await api.call(.post, "/api/auth/login", json: #"{"username": "carol", "password": "not-the-password"}"#)
            #expect(wrong.status == 401 && wrong.errorCode == "unauthorized")
            let unknown = try await api.call(.post, "/api/auth/login", json: #"{"username": "nobody", "password": "whatever1"}"#)
            #expect(unknown.status == 401)
            #expect(wrong.error?.message != nil && wrong.error?.message == unknown.error?.message)
            let injected = try await api.call(.post, "/api/auth/login", json: #"{"username": "carol", "password": {"$gt": ""}}"#)
            #expect(injected.status == 400)
            let injectedName = try await api.call(.post, "/api/auth/login", json: #"{"username": {"$ne": null}, "password": "the-password"}"#)
            #expect(injectedName.status == 400)
        }
    }

    @Test("key rotation: tokens of JWT_SECRET_PREVIOUS still verify, new ones are signed with JWT_SECRET, others are 401")
    func keyRotation() async throws {
        let old = "the-old-secret-the-old-secret-0001", new = "the-new-secret-the-new-secret-0002"
        try await RestHarness.with(configure: { $0.jwtSecret = new; $0.jwtSecretPrevious = old }) { api in
            let (_, id) = try await api.register("rosa")
            let before = try await TokenSigner(secret: old, ttl: 3600).sign(userId: id)
            #expect(try await api.call(.get, "/api/auth/profile", token: before).status == 200)
            // What the server signs now verifies with the new secret alone.
            let login = try await api.call(.post, "/api/auth/login", json: #"{"username": "rosa", "password": "password123"}"#)
            let fresh = try login.decode(Wire.Session.self).token
            #expect(try await TokenSigner(secret: new, ttl: 3600).verify(fresh).sub == id)
            await #expect(throws: ParleyError.self) { try await TokenSigner(secret: old, ttl: 3600).verify(fresh) }
            // Neither secret: 401; an expired token of the previous secret: 401.
            let stranger = try await TokenSigner(secret: "a-third-secret-a-third-secret-003", ttl: 3600).sign(userId: id)
            #expect(try await api.call(.get, "/api/auth/profile", token: stranger).status == 401)
            let stale = try await TokenSigner(secret: old, ttl: 60).sign(userId: id, now: Date().addingTimeInterval(-120))
            #expect(try await api.call(.get, "/api/auth/profile", token: stale).status == 401)
        }
        // Once the previous secret is dropped, its tokens are refused.
        try await RestHarness.with(configure: { $0.jwtSecret = new }) { api in
            let (_, id) = try await api.register("sami")
            let before = try await TokenSigner(secret: old, ttl: 3600).sign(userId: id)
            #expect(try await api.call(.get, "/api/auth/profile", token: before).status == 401)
        }
    }

    @Test("tokens: missing, malformed, tampered, wrongly signed, expired and alg none are all 401")
    func badTokens() async throws {
        try await RestHarness.with { api in
            let (token, id) = try await api.register("dave")
            #expect(try await api.call(.get, "/api/auth/profile").status == 401)
            #expect(try await api.call(.get, "/api/auth/profile", headers: [.authorization: "Basic abc"]).status == 401)
            #expect(try await api.call(.get, "/api/auth/profile", token: "not.a.token").status == 401)
            #expect(try await api.call(.get, "/api/auth/profile", token: "").status == 401)

            // Tampered payload, original signature.
            let parts = token.split(separator: ".")
            let forged = TokenSigner.base64URL(Data(#"{"sub":"\#(ObjectId().hex)","iat":1,"exp":9999999999}"#.utf8))
            #expect(try await api.call(.get, "/api/auth/profile", token: "\(parts[0]).\(forged).\(parts[2])").status == 401)
            // Signed with another secret.
            let other = try await TokenSigner(secret: "another-secret-another-secret-12", ttl: 3600).sign(userId: id)
            #expect(try await api.call(.get, "/api/auth/profile", token: other).status == 401)
            // Expired.
            let expired = try await TokenSigner(secret: RestHarness.config(database: "x").jwtSecret, ttl: 60).sign(userId: id, now: Date().addingTimeInterval(-120))
            let e = try await api.call(.get, "/api/auth/profile", token: expired)
            #expect(e.status == 401 && e.errorCode == "unauthorized")
            // alg: none, no signature.
            let noneHeader = TokenSigner.base64URL(Data(#"{"alg":"none","typ":"JWT"}"#.utf8))
            #expect(try await api.call(.get, "/api/auth/profile", token: "\(noneHeader).\(parts[1]).").status == 401)
            // alg: HS512 claimed with the HS256 signature.
            let hs512 = TokenSigner.base64URL(Data(#"{"alg":"HS512","typ":"JWT"}"#.utf8))
            #expect(try await api.call(.get, "/api/auth/profile", token: "\(hs512).\(parts[1]).\(parts[2])").status == 401)
            // A valid token for a user that does not exist.
            let ghost = try await TokenSigner(secret: RestHarness.config(database: "x").jwtSecret, ttl: 3600).sign(userId: ObjectId().hex)
            #expect(try await api.call(.get, "/api/auth/profile", token: ghost).status == 401)
            #expect(try await api.call(.get, "/api/auth/profile", token: token).status == 200)
        }
    }

    @Test("a disabled user cannot log in and their tokens stop working; a password change revokes old tokens")
    func disabledAndRevoked() async throws {
        try await RestHarness.with { api in
            let (token, _) = try await api.register("erin", password: "password123")
            let accounts = AccountService(users: api.repos.users, hasher: PasswordHasher(cost: 4))
            try await accounts.setDisabled(username: "erin", true)
            #expect(try await api.call(.get, "/api/auth/profile", token: token).status == 401)
            let login = try await api.call(.post, "/api/auth/login", json: #"{"username": "erin", "password": "password123"}"#)
            #expect(login.status == 403 && login.errorCode == "forbidden")
            try await accounts.setDisabled(username: "erin", false)
            let again = try await api.call(.post, "/api/auth/login", json: #"{"username": "erin", "password": "password123"}"#)
            let fresh = try again.decode(Wire.Session.self).token
            #expect(try await api.call(.get, "/api/auth/profile", token: fresh).status == 200)
            try await Task.sleep(for: .milliseconds(5))
            try await accounts.setPassword(username: "erin", password: "another-pass")
            #expect(try await api.call(.get, "/api/auth/profile", token: fresh).status == 401)
        }
    }

    @Test("login and register are rate limited per IP and per username, with Retry-After")
    func rateLimited() async throws {
        try await RestHarness.with(configure: { $0.authRateLimitPerMinute = 3 }) { api in
            for _ in 0..<3 {
                let r = try await api.call(.post, "/api/auth/login", json: #"{"username": "frank", "password": "password123"}"#)
                #expect(r.status == 401)
            }
            let limited = try await api.call(.post, "/api/auth/login", json: #"{"username": "frank", "password": "password123"}"#)
            #expect(limited.status == 429 && limited.errorCode == "rate_limited")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect((limited.error?.retryAfterMs ?? 0) > 0)
            let register = try await api.call(.post, "/api/auth/register", json: #"{"username": "grace", "password": "password123"}"#)
            #expect(register.status == 429)
        }
    }
}
