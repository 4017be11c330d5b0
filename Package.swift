// swift-tools-version:6.2
import PackageDescription

/// Strict Swift 6 everywhere; the upcoming features keep imports and existentials explicit.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "parley",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
        .executable(name: "parleyctl", targets: ["parleyctl"]),
        .executable(name: "parley-bench", targets: ["parley-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        // Already built for jwt-kit; named for the uploads' SHA-256.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // The C driver, found through pkg-config; `scripts/setup.sh` installs it with apt.
        .systemLibrary(
            name: "CMongoC",
            pkgConfig: "libmongoc-1.0",
            providers: [.apt(["libmongoc-dev", "libbson-dev"])]
        ),
        // Swift API over libmongoc: pool, BSON <-> Codable, CRUD, cursors, change streams.
        .target(
            name: "Mongo",
            dependencies: [
                "CMongoC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Models, configuration, repositories, migrations and services.
        .target(
            name: "ParleyCore",
            dependencies: [
                "Mongo",
                // Access tokens (HS256 JWTs) over swift-crypto, which the build has anyway.
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP routes, WebSocket gateway, auth and the application builder.
        .target(
            name: "ParleyServer",
            dependencies: [
                "ParleyCore",
                "Mongo",
                .product(name: "Hummingbird", package: "hummingbird"),
                // The WebSocket handshake; the sockets frame their own bytes (`WebSocketReader`).
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "parley",
            dependencies: ["ParleyServer", "ParleyCore"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "parleyctl",
            dependencies: [
                "ParleyCore",
                "Mongo",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The load generator: speaks only the wire contract (REST + /ws), plus a
        // database ceiling probe through the Mongo layer.
        .executableTarget(
            name: "parley-bench",
            dependencies: [
                "Mongo",
                "ParleyCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TestSupport",
            dependencies: ["Mongo", "ParleyCore"],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MongoTests",
            dependencies: ["Mongo", "TestSupport", .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParleyCoreTests",
            dependencies: ["ParleyCore", "Mongo", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParleyServerTests",
            dependencies: [
                "ParleyServer", "ParleyCore", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParleyBenchTests",
            dependencies: [
                "parley-bench",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParleyCtlTests",
            dependencies: ["ParleyCore", "Mongo", "TestSupport", "parleyctl"],
            swiftSettings: swiftSettings
        ),
    ]
)

// Micro benchmarks (ordo-one/benchmark) of the encode and decode paths fan-out, the
// flush and the read loop spend on. Only with PARLEY_BENCHMARKS=1, so the tests' build
// neither resolves nor builds them: `bash scripts/microbench.sh`.
if Context.environment["PARLEY_BENCHMARKS"] == "1" {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "ParleyBenchmarks",
            dependencies: [
                "ParleyServer", "ParleyCore", "Mongo",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Tests/Benchmarks/ParleyBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ))
}

