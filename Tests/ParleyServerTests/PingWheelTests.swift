import NIOCore
import NIOEmbedded
import Testing

@testable import ParleyServer

/// The event loop's one ping timer for all its sockets (`PingWheel`), on an embedded
/// loop whose clock the test moves. The sockets' own use of it (a ping every
/// interval, a silent client dropped) is tested on real sockets: `test_limits.py`
/// (native `/ws`) and `SocketIOProtocolTests.pings` (Socket.IO).
@Suite("Ping wheel: one timer per event loop")
struct PingWheelTests {
    /// Counts its ticks; leaves the wheel on the tick given, as a socket that a ping
    /// timeout closes does.
    final class Member: PingWheelMember {
        var ticks = 0
        var leaveOnTick: Int?
        weak var wheel: PingWheel?
        var pingSeat: PingWheel.Seat?

        func pingTick() {
            ticks += 1
            if ticks == leaveOnTick { wheel?.leave(self) }
        }
    }

    static let interval = TimeAmount.milliseconds(800)
    static let step = TimeAmount.milliseconds(100)  // interval / PingWheel.slots

    @Test("each member is ticked once every interval, its first tick within the last slot of its first interval")
    func everyInterval() {
        let loop = EmbeddedEventLoop()
        let wheel = PingWheel(loop: loop, interval: Self.interval)
        let early = Member(), late = Member()
        wheel.join(early)
        loop.advanceTime(by: .milliseconds(350))
        wheel.join(late)
        // early joined at 0: first tick at 800. late joined at 350, in the slot ticked
        // at 300: first tick at 1100, one interval after that slot's tick.
        loop.advanceTime(by: .milliseconds(449))  // 799
        #expect(early.ticks == 0 && late.ticks == 0)
        loop.advanceTime(by: .milliseconds(1))  // 800
        #expect(early.ticks == 1 && late.ticks == 0)
        loop.advanceTime(by: .milliseconds(299))  // 1099
        #expect(late.ticks == 0)
        loop.advanceTime(by: .milliseconds(1))  // 1100
        #expect(early.ticks == 1 && late.ticks == 1)
        loop.advanceTime(by: Self.interval * 10)
        #expect(early.ticks == 11 && late.ticks == 11)
        #expect(wheel.count == 2)
    }

    @Test("a member that leaves is not ticked again, also when it leaves during its own tick; joining twice counts once")
    func leaving() {
        let loop = EmbeddedEventLoop()
        let wheel = PingWheel(loop: loop, interval: Self.interval)
        let stays = Member(), leaves = Member(), closesItself = Member()
        closesItself.leaveOnTick = 2
        closesItself.wheel = wheel
        for m in [stays, leaves, closesItself] { wheel.join(m) }
        wheel.join(stays)
        #expect(wheel.count == 3)
        loop.advanceTime(by: Self.interval)
        #expect(stays.ticks == 1 && leaves.ticks == 1 && closesItself.ticks == 1)
        wheel.leave(leaves)
        wheel.leave(leaves)
        loop.advanceTime(by: Self.interval * 3)
        #expect(stays.ticks == 4 && leaves.ticks == 1 && closesItself.ticks == 2)
        #expect(wheel.count == 1)
    }

    @Test("members leaving from anywhere in a slot: the others keep being ticked, each once an interval")
    func leavingFromTheMiddle() {
        let loop = EmbeddedEventLoop()
        let wheel = PingWheel(loop: loop, interval: Self.interval)
        let members = (0..<6).map { _ in Member() }
        for m in members { wheel.join(m) }  // one slot: the last takes a leaver's place
        wheel.leave(members[1])
        wheel.leave(members[3])
        #expect(members[1].pingSeat == nil && members[3].pingSeat == nil)
        loop.advanceTime(by: Self.interval)
        #expect(members.map(\.ticks) == [1, 0, 1, 0, 1, 1])
        // The members moved into the leavers' places leave as well, then a joiner.
        wheel.leave(members[5])
        wheel.leave(members[4])
        let late = Member()
        wheel.join(late)
        wheel.leave(late)
        wheel.join(late)
        #expect(wheel.count == 3)
        loop.advanceTime(by: Self.interval * 2)
        #expect(members.map(\.ticks) == [3, 0, 3, 0, 1, 1] && late.ticks == 2)
        // A leave for a member that is not in this wheel changes nothing.
        let stranger = Member()
        stranger.pingSeat = members[0].pingSeat
        wheel.leave(stranger)
        #expect(wheel.count == 3 && members[0].pingSeat != nil)
    }

    @Test("the timer runs only while the wheel has members, and starts again with the next")
    func timerFollowsMembers() {
        let loop = EmbeddedEventLoop()
        let wheel = PingWheel(loop: loop, interval: Self.interval)
        let first = Member()
        wheel.join(first)
        loop.advanceTime(by: Self.interval)
        wheel.leave(first)
        #expect(wheel.count == 0)
        // Nothing left scheduled: the last member's leave cancelled the timer.
        loop.advanceTime(by: Self.interval * 5)
        #expect(first.ticks == 1)
        let second = Member()
        wheel.join(second)
        loop.advanceTime(by: Self.interval)
        #expect(second.ticks == 1 && first.ticks == 1)
    }

    @Test("one wheel per event loop and interval kind")
    func perLoop() {
        let a = EmbeddedEventLoop(), b = EmbeddedEventLoop()
        let wheels = PingWheels(interval: Self.interval)
        #expect(wheels.wheel(on: a) === wheels.wheel(on: a))
        #expect(wheels.wheel(on: a) !== wheels.wheel(on: b))
        #expect(wheels.wheel(on: b).loop === b)
    }
}
