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
}
