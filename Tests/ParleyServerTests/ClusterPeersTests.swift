import Foundation
import Mongo
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("Cluster peers, without a database")
struct ClusterPeersTests {
    @Test("each node's batches in order; a missing number is a gap, an old one a repeat, a 1 a restart; silent nodes expire")
    func batches() {
        let peers = Peers()
        let t = ContinuousClock.now
        #expect(peers.heard("a", batch: 7, at: t) == .inOrder)
        #expect(peers.heard("a", batch: 8, at: t) == .inOrder)
        #expect(peers.heard("a", batch: 8, at: t) == .repeated)
        #expect(peers.heard("a", batch: 11, at: t) == .gap)
        #expect(peers.heard("a", batch: 1, at: t) == .inOrder)
        peers.known("b", at: t)
        #expect(peers.heard("b", batch: 40, at: t + .seconds(5)) == .inOrder)
        #expect(Set(peers.alive) == ["a", "b"])
        #expect(peers.expire(now: t + .seconds(9), timeout: .seconds(8)) == ["a"])
        #expect(peers.alive == ["b"])
        // This node was away: nobody is taken for dead for its own silence.
        peers.refresh(at: t + .seconds(30))
        #expect(peers.expire(now: t + .seconds(31), timeout: .seconds(8)).isEmpty)
    }

    @Test("a signal carries its push as the clients' JSON, and makes the same frame")
    func signalFrames() throws {
        let frame = try PushFrame(type: "typing", data: ["roomId": "r", "userId": "u"])
        let room = Mongo.ObjectId()
        let signal = Signal.push(frame, to: room, except: nil)
        #expect(signal.frame?.native == frame.native && signal.room == room)
        let decoded = try Mongo.BSONDecoder().decode(Signal.self, from: try Mongo.BSONEncoder().encode(signal))
        #expect(decoded == signal)
    }
}

@Suite("Signal batches, without a database")
struct SignalBatchTests {
    @Test("a backlog is cut into documents far below 16 MiB: at most 5,000 message copies or 10,000 signals each, never empty")
    func cut() {
        let room = Mongo.ObjectId(), user = Mongo.ObjectId()
        let records = (1...1_000).map { MessageRecord(roomId: room, seq: $0, senderId: user, senderName: "s", text: "t", clientId: "c\($0)") }
        let big = Array(repeating: Signal.messages(records), count: 12)
        #expect(SignalOutbox.batchEnd(big) == 5)
        #expect(SignalOutbox.batchEnd([Signal.messages(records + records + records + records + records + records)]) == 1)
        let small = Array(repeating: Signal.subscribe(user, to: room), count: 25_000)
        #expect(SignalOutbox.batchEnd(small) == 10_000)
        #expect(SignalOutbox.batchEnd([]) == 0)
    }

    @Test("one writer per room: every node picks the same writer, rooms spread over the nodes, a dead node moves only its own rooms")
    func roomWriters() {
        let nodes = ["n1", "n2", "n3"]
        let rooms = (0..<3000).map { _ in ObjectId() }
        let writers = rooms.map { SendRouter.writer(of: $0, among: nodes)! }
        // The same answer whatever order a node lists its peers in.
        #expect(rooms.map { SendRouter.writer(of: $0, among: nodes.reversed())! } == writers)
        let share = Dictionary(grouping: writers, by: { $0 }).mapValues(\.count)
        #expect(nodes.allSatisfy { (800...1200).contains(share[$0] ?? 0) }, "\(share)")
        // n2 dies: its rooms go elsewhere, the others' stay where they were.
        let after = rooms.map { SendRouter.writer(of: $0, among: ["n1", "n3"])! }
        #expect(zip(writers, after).allSatisfy { $0 == "n2" || $0 == $1 })
        #expect(SendRouter.writer(of: rooms[0], among: []) == nil)
    }

    @Test("a forwarded send's origin names its node's connection, and no other node's")
    func remoteOrigins() {
        let o = SendRouter.remoteOrigin(node: "n1", connection: 4242)
        #expect(SendRouter.isRemote(o) && o < UInt64(Int64.max))
        #expect(SendRouter.localOrigin(o, node: "n1") == 4242)
        #expect(SendRouter.localOrigin(o, node: "n2") == nil)
        #expect(!SendRouter.isRemote(4242) && SendRouter.localOrigin(4242, node: "n1") == nil)
    }
}
