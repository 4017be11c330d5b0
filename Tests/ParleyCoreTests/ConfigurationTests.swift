import Foundation
import Logging
import ParleyCore
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test("defaults apply when nothing is set, in development")
    func defaults() throws {
        let c = try ParleyConfiguration.load(from: EnvironmentSource(values: [:]))
        #expect(c.port == 8080 && c.host == "127.0.0.1")
        #expect(c.mongoDatabase == "parley")
        #expect(c.jwtSecret == ParleyConfiguration.developmentSecret)
        #expect(c.maxFrameBytes == 65_536 && c.rateLimitPerSecond == 20 && c.rateLimitBurst == 40)
        #expect(c.migrateOnStart == .apply)
    }

    @Test("every key is read")
    func keys() throws {
        let c = try ParleyConfiguration.load(from: EnvironmentSource(values: [
            "PORT": "9000", "HOST": "0.0.0.0", "MONGODB_URI": "mongodb://db:27017", "MONGODB_DATABASE": "chat",
            "JWT_SECRET": "s", "JWT_TTL": "3600", "CLIENT_URL": "https://chat.example", "LOG_LEVEL": "DEBUG",
            "MAX_FRAME_BYTES": "2048", "MAX_BODY_BYTES": "4096", "MESSAGE_MAX_CHARS": "100",
            "RATE_LIMIT_MESSAGES_PER_SECOND": "5", "RATE_LIMIT_BURST": "9", "MONGO_THREADS": "3", "MONGO_EXTRA_CLIENTS": "4",
            "MIGRATIONS_DIR": "/m", "MIGRATE_ON_START": "check", "BCRYPT_COST": "4", "AUTH_RATE_LIMIT_PER_MINUTE": "7",
            "MONGO_SERVER_SELECTION_TIMEOUT_MS": "500",
        ]))
        #expect(c.port == 9000 && c.host == "0.0.0.0" && c.mongoURI == "mongodb://db:27017" && c.mongoDatabase == "chat")
        #expect(c.jwtSecret == "s" && c.jwtTTL == 3600 && c.clientURL == "https://chat.example" && c.logLevel == .debug)
        #expect(c.maxFrameBytes == 2048 && c.maxBodyBytes == 4096 && c.messageMaxChars == 100)
        #expect(c.rateLimitPerSecond == 5 && c.rateLimitBurst == 9 && c.mongoThreads == 3 && c.mongoExtraClients == 4)
        #expect(c.migrationsDirectory == "/m" && c.migrateOnStart == .check && c.bcryptCost == 4 && c.authRateLimitPerMinute == 7)
        #expect(c.mongo.threadCount == 3 && c.mongo.serverSelectionTimeoutMS == 500)
    }

    @Test("dialects and guests: the settings, and bare user ids believed only in development")
    func dialectsAndGuests() throws {
        let d = try ParleyConfiguration.load(from: EnvironmentSource(values: [:]))
        #expect(d.socketIODialect == "parley" && d.guestAccess && d.guestTTL == 86_400 && d.guestRateLimitPerSecond == 2 && !d.dialectTrustUserIds)
        let c = try ParleyConfiguration.load(from: EnvironmentSource(values: [
            "SOCKETIO_DIALECT": "Live-Event", "GUEST_ACCESS": "off", "GUEST_TTL": "600", "GUEST_RATE_LIMIT_MESSAGES_PER_SECOND": "5",
            "DIALECT_TRUST_USER_IDS": "true", "PARLEY_ENV": "development",
        ]))
        #expect(c.socketIODialect == "live-event" && !c.guestAccess && c.guestTTL == 600 && c.guestRateLimitPerSecond == 5 && c.dialectTrustUserIds)
        for mode in ["test", "production"] {
            do {
                _ = try ParleyConfiguration.load(from: EnvironmentSource(values: [
                    "DIALECT_TRUST_USER_IDS": "true", "PARLEY_ENV": mode, "JWT_SECRET": String(repeating: "k", count: 32),
                ]))
                Issue.record("DIALECT_TRUST_USER_IDS accepted in \(mode)")
            } catch {
                #expect("\(error)".contains("DIALECT_TRUST_USER_IDS") && "\(error)".contains("development"))
            }
        }
        #expect(throws: ConfigurationError.self) { try ParleyConfiguration.load(from: EnvironmentSource(values: ["SOCKETIO_DIALECT": "klingon"])) }
        #expect(throws: ConfigurationError.self) { try ParleyConfiguration.load(from: EnvironmentSource(values: ["GUEST_ACCESS": "maybe"])) }
    }

    @Test("a missing JWT_SECRET stops production with a message naming the key")
    func secretRequired() {
        #expect(throws: ConfigurationError.self) { try ParleyConfiguration.load(from: EnvironmentSource(values: ["PARLEY_ENV": "production"])) }
        do {
            _ = try ParleyConfiguration.load(from: EnvironmentSource(values: ["PARLEY_ENV": "production"]))
        } catch {
            #expect("\(error)".contains("JWT_SECRET"))
        }
        #expect(throws: ConfigurationError.self) {
            try ParleyConfiguration.load(from: EnvironmentSource(values: ["PARLEY_ENV": "production", "JWT_SECRET": "short"]))
        }
        #expect(throws: Never.self) {
            try ParleyConfiguration.load(from: EnvironmentSource(values: ["PARLEY_ENV": "production", "JWT_SECRET": String(repeating: "k", count: 32)]))
        }
        // The previous secret of a rotation follows the same rule.
        let strong = String(repeating: "k", count: 32)
        #expect(throws: ConfigurationError.self) {
            try ParleyConfiguration.load(from: EnvironmentSource(values: ["PARLEY_ENV": "production", "JWT_SECRET": strong, "JWT_SECRET_PREVIOUS": "short"]))
        }
        let rotated = try? ParleyConfiguration.load(
            from: EnvironmentSource(values: ["PARLEY_ENV": "production", "JWT_SECRET": strong, "JWT_SECRET_PREVIOUS": String(repeating: "p", count: 32)]))
        #expect(rotated?.jwtSecretPrevious == String(repeating: "p", count: 32))
    }

    @Test("bad values are refused with the key named", arguments: [
        ("PORT", "0"), ("PORT", "http"), ("LOG_LEVEL", "loud"), ("PARLEY_ENV", "staging"), ("MIGRATE_ON_START", "maybe"),
        ("MONGODB_DATABASE", "a.b"), ("BCRYPT_COST", "2"), ("MAX_FRAME_BYTES", "-1"), ("MONGO_OPERATION_TIMEOUT_MS", "0"),
        ("HEALTH_TIMEOUT_MS", "soon"),
    ])
    func badValues(key: String, value: String) {
        do {
            _ = try ParleyConfiguration.load(from: EnvironmentSource(values: [key: value]))
            Issue.record("\(key)=\(value) was accepted")
        } catch let e as ConfigurationError {
            #expect(e.key == key)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(".env parsing: comments, quotes, export, inline comments; the environment wins")
    func dotEnv() {
        let parsed = EnvironmentSource.parseDotEnv("""
            # comment
            PORT=9001
            export HOST=0.0.0.0
            JWT_SECRET="quoted # not a comment"
            CLIENT_URL='single'
            LOG_LEVEL=debug # trailing comment
            not a line
            =nokey
            """)
        #expect(parsed["PORT"] == "9001" && parsed["HOST"] == "0.0.0.0")
        #expect(parsed["JWT_SECRET"] == "quoted # not a comment" && parsed["CLIENT_URL"] == "single")
        #expect(parsed["LOG_LEVEL"] == "debug")
        #expect(parsed.count == 5)
    }

    @Test("the shipped files are found beside the binary, in ../share/parley, or in the checkout it was built in, from any directory")
    func resources() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("parley-locator-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: root) }
        // An install: bin/parley with share/parley/migrations.
        let bin = root.appendingPathComponent("install/bin")
        try fm.createDirectory(at: bin, withIntermediateDirectories: true)
        try fm.createDirectory(at: root.appendingPathComponent("install/share/parley/migrations"), withIntermediateDirectories: true)
        #expect(ResourceLocator.find("no-such-thing-\(UUID())", from: bin) == nil)
        #expect(ResourceLocator.find("migrations", from: bin, inWorkingDirectory: false)
            == root.appendingPathComponent("install/share/parley/migrations").standardizedFileURL.path)
        // A checkout: .build/x86_64-unknown-linux-gnu/debug/parley, Package.swift at the top.
        let checkout = root.appendingPathComponent("checkout")
        let debug = checkout.appendingPathComponent(".build/x86_64-unknown-linux-gnu/debug")
        try fm.createDirectory(at: debug, withIntermediateDirectories: true)
        try fm.createDirectory(at: checkout.appendingPathComponent("Public-test-\(root.lastPathComponent)"), withIntermediateDirectories: true)
        fm.createFile(atPath: checkout.appendingPathComponent("Package.swift").path, contents: Data())
        #expect(ResourceLocator.find("Public-test-\(root.lastPathComponent)", from: debug)
            == checkout.appendingPathComponent("Public-test-\(root.lastPathComponent)").standardizedFileURL.path)
        // Beside the binary comes first.
        try fm.createDirectory(at: debug.appendingPathComponent("Public-test-\(root.lastPathComponent)"), withIntermediateDirectories: true)
        #expect(ResourceLocator.find("Public-test-\(root.lastPathComponent)", from: debug)
            == debug.appendingPathComponent("Public-test-\(root.lastPathComponent)").standardizedFileURL.path)
    }
}
