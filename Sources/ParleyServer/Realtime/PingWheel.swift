import NIOCore
import Synchronization

/// What a ping wheel ticks: a socket or session that sends its keep-alive ping, or
/// gives up on a peer that did not answer the last one. Called on the wheel's loop.
protocol PingWheelMember: AnyObject {
    func pingTick()
    /// Where the member sits in its wheel, kept by the wheel (nil: not in one). The
    /// member holds it, so the wheel needs no table of its own to find it.
    var pingSeat: PingWheel.Seat? { get set }
}

/// One timer per event loop for the keep-alive pings of every socket on it.
///
/// A timer per socket (`scheduleRepeatedTask`) costs a repeated task, its scheduled
/// entry and a closure, about 0.6 KiB an idle connection; here a socket costs one
/// array entry (16 bytes) and the seat it keeps (`PingWheelMember.pingSeat`), where
/// dictionaries keyed by the socket took three to six times that. The interval is
/// cut into `slots`: a member joins the slot the wheel just ticked, so it is ticked
/// each time the wheel comes round to it again, every interval, its first tick
/// between `interval - interval / slots` and `interval` after it joined. A member
/// leaves in one step: the slot's last member takes its place. The timer runs while
/// the wheel has members.
final class PingWheel: Sendable {
    static let slots = 8

    /// A member's place: its slot, and its index in the slot's array.
    struct Seat: Sendable, Equatable {
        let slot: Int32
        var index: Int32
    }

    let loop: any EventLoop
    let interval: TimeAmount
    /// Made on the loop at the first join; a class, so a join changes it in place.
    private let state: NIOLoopBoundBox<State?>

    private final class State {
        var slots = [[any PingWheelMember]](repeating: [], count: PingWheel.slots)
        /// The slot ticked last, the one new members join.
        var cursor = 0
        var count = 0
        var timer: RepeatedTask?
    }

    init(loop: any EventLoop, interval: TimeAmount) {
        self.loop = loop
        self.interval = interval
        state = .makeEmptyBox(valueType: State.self, eventLoop: loop)
    }

    /// Adds `member`, ticked every interval from now on; call on the loop. A member
    /// already in the wheel stays where it is.
    func join(_ member: any PingWheelMember) {
        guard member.pingSeat == nil else { return }
        let s = state.value ?? State()
        state.value = s
        member.pingSeat = Seat(slot: Int32(s.cursor), index: Int32(s.slots[s.cursor].count))
        s.slots[s.cursor].append(member)
        s.count += 1
        if s.timer == nil {
            let step = TimeAmount.nanoseconds(max(1, interval.nanoseconds / Int64(Self.slots)))
            s.timer = loop.scheduleRepeatedTask(initialDelay: step, delay: step) { [weak self] _ in self?.tick() }
        }
    }

    /// Removes `member` (nothing if it is not in the wheel); the timer stops with the
    /// last one. Call on the loop.
    func leave(_ member: any PingWheelMember) {
        guard let s = state.value, let seat = member.pingSeat else { return }
        let slot = Int(seat.slot), index = Int(seat.index)
        guard index < s.slots[slot].count, s.slots[slot][index] === member else { return }
        member.pingSeat = nil
        let last = s.slots[slot].removeLast()
        if index < s.slots[slot].count {
            s.slots[slot][index] = last
            last.pingSeat = seat
        }
        s.count -= 1
        if s.count == 0 {
            s.timer?.cancel()
            s.timer = nil
        }
    }

    /// How many members the wheel has; call on the loop.
    var count: Int { state.value?.count ?? 0 }

    private func tick() {
        guard let s = state.value else { return }
        s.cursor = (s.cursor + 1) % Self.slots
        // Members may leave (a ping timeout closes the socket) while the slot is
        // ticked: the loop goes over the slot as it was.
        let due = s.slots[s.cursor]
        for member in due { member.pingTick() }
    }
}

/// The ping wheels of one kind of socket (one interval), one per event loop, made on
/// first use.
final class PingWheels: Sendable {
    let interval: TimeAmount
    private let wheels = Mutex<[ObjectIdentifier: PingWheel]>([:])

    init(interval: TimeAmount) { self.interval = interval }

    /// The wheel of `loop`.
    func wheel(on loop: any EventLoop) -> PingWheel {
        wheels.withLock { w in
            if let wheel = w[ObjectIdentifier(loop)] { return wheel }
            let wheel = PingWheel(loop: loop, interval: interval)
            w[ObjectIdentifier(loop)] = wheel
            return wheel
        }
    }
}
