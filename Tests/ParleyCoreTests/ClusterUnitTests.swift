import Foundation
import Mongo
import Testing

@testable import ParleyCore

/// The cluster's pure rules without a database: ordering a room's messages from two
/// sources with holes, and presence across nodes. The same behaviours run across real
/// nodes in `Tests/interop/test_cluster.py`.
@Suite("Cluster rules, without a database")
struct ClusterUnitTests {
    typealias Sequencer = RoomSequencer<String, Int>

    static func items(_ seqs: [Int]) -> [(seq: Int, item: Int)] { seqs.map { ($0, $0) } }

    @Test("messages go out in seq order, each once, from both sources; a repeat is dropped")
    func order() {
        var s = Sequencer()
        let t = ContinuousClock.now
        #expect(s.offer(Self.items([5, 6]), room: "r", now: t) == [5, 6])
        #expect(s.offer(Self.items([6]), room: "r", now: t).isEmpty)
        // 8 before 7: held until 7 comes, then both go out in order.
        #expect(s.offer(Self.items([8]), room: "r", now: t).isEmpty)
        #expect(s.hasHole("r"))
        #expect(s.offer(Self.items([7]), room: "r", now: t) == [7, 8])
        #expect(!s.hasHole("r") && s.next(of: "r") == 9)
        // Rooms are independent; a known start skips nothing before it.
        #expect(s.offer(Self.items([3]), room: "q", start: 2, now: t).isEmpty)
        #expect(s.offer(Self.items([2]), room: "q", now: t) == [2, 3])
    }

    @Test("a hole that does not fill is read after gapFill; what the read finds goes out")
    func fill() {
        var s = Sequencer()
        let t = ContinuousClock.now
        _ = s.offer(Self.items([1]), room: "r", now: t)
        #expect(s.offer(Self.items([4, 5]), room: "r", now: t).isEmpty)
        #expect(s.dueFills(now: t + .milliseconds(10), after: .milliseconds(100)).isEmpty)
        let due = s.dueFills(now: t + .milliseconds(150), after: .milliseconds(100))
        #expect(due.map(\.room) == ["r"] && due.map(\.fill) == [.init(from: 2, to: 3)])
        // The stream delivers 2 meanwhile; the read brings 2 again and 3.
        #expect(s.offer(Self.items([2]), room: "r", now: t) == [2])
        #expect(s.filled(Self.items([2, 3]), room: "r", now: t) == [3, 4, 5])
        #expect(!s.hasHoles)
    }

    @Test("a hole no read can fill is given up after maxFills, so a room never stalls")
    func giveUp() {
        var limits = Sequencer.Limits()
        limits.maxFills = 3
        var s = Sequencer(limits: limits)
        var t = ContinuousClock.now
        _ = s.offer(Self.items([1]), room: "r", now: t)
        _ = s.offer(Self.items([3]), room: "r", now: t)
        for n in 1...3 {
            t += .milliseconds(200)
            #expect(s.dueFills(now: t, after: .milliseconds(100)).count == 1)
            let out = s.filled([], room: "r", now: t)
            #expect(out == (n == 3 ? [3] : []))
        }
        #expect(s.next(of: "r") == 4)
    }

    @Test("held messages past maxHeld skip the hole")
    func bounded() {
        var limits = Sequencer.Limits()
        limits.maxHeld = 4
        var s = Sequencer(limits: limits)
        let t = ContinuousClock.now
        _ = s.offer(Self.items([1]), room: "r", now: t)
        #expect(s.offer(Self.items([3, 4, 5, 6]), room: "r", now: t).isEmpty)
        #expect(s.offer(Self.items([7]), room: "r", now: t) == [3, 4, 5, 6, 7])
    }

    @Test("presence across nodes: online while any node has the user; a dead node's users go offline unless online elsewhere")
    func presence() {
        let p = PresenceRegistry()
        let (u, v) = (ObjectId(), ObjectId())
        #expect(p.remoteOnline(u, node: "n2"))
        #expect(!p.remoteOnline(u, node: "n3"))
        #expect(p.isOnline(u) && !p.localUserIds.contains(u) && p.onlineUserIds == [u])
        #expect(!p.remoteOffline(u, node: "n2"))
        #expect(p.remoteOffline(u, node: "n3"))
        #expect(!p.isOnline(u))
        // Local and remote at once: the remote going away leaves the user online here.
        p.connect(v)
        p.remoteOnline(v, node: "n2")
        p.remoteOnline(u, node: "n2")
        #expect(p.nodeGone("n2") == [u])
        #expect(p.isOnline(v) && !p.isOnline(u))
        #expect(Set(p.onlineUserIds) == [v])
        p.replaceRemote([(u, "n4")])
        #expect(Set(p.onlineUserIds) == [u, v])
    }
}
