import Foundation

/// Child processes of this tool, for loads one process cannot hold (a process may
/// hold only so many descriptors). Each child prints one JSON line per report on
/// its standard output and holds its sockets until its standard input closes.
struct BenchChildren {
    private var children: [(process: Process, input: Pipe, output: Pipe)] = []

    /// Starts one child per argument list.
    init(_ argumentLists: [[String]]) throws {
        for arguments in argumentLists {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            child.arguments = arguments
            let input = Pipe(), output = Pipe()
            child.standardInput = input
            child.standardOutput = output
            try child.run()
            children.append((child, input, output))
        }
    }

    /// The next report of every child, in order; stops them all and throws when one
    /// ends without it.
    func reports<Report: Decodable>(_ type: Report.Type) async throws -> [Report] {
        var reports: [Report] = []
        for child in children {
            let handle = child.output.fileHandleForReading
            let line = await Task.detached { () -> Data in
                var data = Data()
                // One byte at a time: the next report must stay in the pipe.
                while let byte = try? handle.read(upToCount: 1), let b = byte.first {
                    if b == UInt8(ascii: "\n") { break }
                    data.append(b)
                }
                return data
            }.value
            guard let report = try? JSONDecoder().decode(Report.self, from: line) else {
                stop()
                throw RestClient.Failure(description: "a child process failed: \(String(decoding: line, as: UTF8.self))")
            }
            reports.append(report)
        }
        return reports
    }

    /// Closes the children's input (they let go of their sockets) and waits for them.
    func finish() {
        for child in children { try? child.input.fileHandleForWriting.close() }
        for child in children { child.process.waitUntilExit() }
    }

    private func stop() {
        for child in children { child.process.terminate() }
    }

    /// The child side: one report line on standard output.
    static func report(_ value: some Encodable) throws {
        FileHandle.standardOutput.write(try JSONEncoder().encode(value) + Data("\n".utf8))
    }

    /// The child side: returns once the parent closes standard input.
    static func waitForParent() async {
        _ = await Task.detached { FileHandle.standardInput.readDataToEndOfFile() }.value
    }
}
