import Foundation
import Synchronization

/// Cluster mode's figures: a message's latency to a receiver on the sending node and
/// to one on another node, in the same run (the difference is the cross-node path:
/// the change stream and the room's ordering); typing across nodes.
extension Scenarios {
    static func cluster(
        _ a: BenchTarget, _ b: BenchTarget, senders: Int, rooms: Int, rate: Double, window: Int, seconds: Double, padding: Int, typingProbes: Int
    ) async throws -> BenchResult {
        progress("cluster: \(senders) senders on \(a.wsURL), receivers there and on \(b.wsURL), \(rooms) rooms")
        let users = try await a.users("k", senders + 2 * rooms)
        let senderUsers = Array(users.prefix(senders))
        var roomIds: [String] = []
        for r in 0..<rooms { roomIds.append(try await a.rest.createRoom(senderUsers[r % senders].token, name: "cluster \(a.runID) \(r)")) }
        for (i, u) in senderUsers.enumerated() where i >= rooms { try await a.rest.join(u.token, room: roomIds[i % rooms]) }
        let same = Tally(), cross = Tally(), senderTally = Tally()
        var receivers: [BenchSocket] = []
        for r in 0..<rooms {
            let (s, c) = (users[senders + 2 * r], users[senders + 2 * r + 1])
            try await a.rest.join(s.token, room: roomIds[r])
            try await a.rest.join(c.token, room: roomIds[r])
            receivers.append(try await BenchSocket.open(url: a.wsURL, token: s.token) { kind, frame in if kind == .messageNew { same.delivery(frame) } })
            receivers.append(try await BenchSocket.open(url: b.wsURL, token: c.token) { kind, frame in if kind == .messageNew { cross.delivery(frame) } })
        }
        let acked = AckRouter()
        let sockets = try await openCounting(a, users: senderUsers, tally: senderTally, acked: acked)
        Task {
            try? await Task.sleep(for: .seconds(1))
            same.reset()
            cross.reset()
        }
        let measured = try await drive(
            a, sockets: sockets, rooms: roomIds, rate: rate, window: window, seconds: seconds, padding: padding, tally: senderTally, acked: acked)
        let typing = try await typingAcross(a, b, room: roomIds[0], typist: senderUsers[0], watcher: users[senders + 1], probes: typingProbes)
        for s in sockets + receivers { s.close() }
        return BenchResult(
            scenario: "cluster",
            parameters: ["senders": "\(senders)", "rooms": "\(rooms)", "rate per sender": rate == 0 ? "max (window \(window))" : "\(rate)/s",
                         "seconds": "\(seconds)"],
            figures: ["messages stored per s": measured.stored(seconds: seconds) / seconds, "acks counted per s": Double(measured.acks) / seconds,
                      "same-node p50 ms": same.latencyMs(50), "same-node p99 ms": same.latencyMs(99),
                      "cross-node p50 ms": cross.latencyMs(50), "cross-node p99 ms": cross.latencyMs(99),
                      "cross-node deliveries per s": Double(cross.counts.deliveries) / seconds,
                      "same-node deliveries per s": Double(same.counts.deliveries) / seconds,
                      "typing cross-node p50 ms": typing.latencyMs(50), "typing cross-node p99 ms": typing.latencyMs(99),
                      "errors": Double(measured.errors)])
    }

    /// `probes` typing events, one every 20 ms, from a member on node `a` to one on
    /// node `b`: the time from sending to the push.
    static func typingAcross(_ a: BenchTarget, _ b: BenchTarget, room: String, typist: (token: String, id: String), watcher: (token: String, id: String), probes: Int)
        async throws -> Tally
    {
        let tally = Tally()
        let sentAt = Mutex<UInt64>(0)
        let arrived = Counter()
        let watching = try await BenchSocket.open(url: b.wsURL, token: watcher.token) { _, frame in
            guard frame.contains(#""type":"typing""#) else { return }
            tally.record(nanoseconds: Stamp.now() - sentAt.withLock { $0 })
            _ = arrived.add(1)
        }
        let typing = try await BenchSocket.open(url: a.wsURL, token: typist.token) { _, _ in }
        for n in 0..<probes {
            sentAt.withLock { $0 = Stamp.now() }
            typing.send(#"{"type":"typing","data":{"roomId":"\#(room)","isTyping":\#(n % 2 == 0)}}"#)
            let deadline = ContinuousClock.now + .seconds(2)
            while arrived.value <= n, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            try await Task.sleep(for: .milliseconds(20))
        }
        typing.close()
        watching.close()
        return tally
    }
}
