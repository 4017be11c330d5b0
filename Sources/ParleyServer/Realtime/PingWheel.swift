import NIOCore
import Synchronization

/// What a ping wheel ticks: a socket or session that sends its keep-alive ping, or
/// gives up on a peer that did not answer the last one. Called on the wheel's loop.
protocol PingWheelMember: AnyObject {
    func pingTick()
}

/// One timer per event loop for the keep-alive pings of every socket on it.
///
/// A timer per socket (`scheduleRepeatedTask`) costs a repeated task, its scheduled
/// entry and a closure, about 0.6 KiB an idle connection; here a socket costs an
/// entry in a dictionary. The interval is cut into `slots`: a member joins the slot
/// the wheel just ticked, so it is ticked each time the wheel comes round to it
/// again, every interval, its first tick between `interval - interval / slots` and
/// `interval` after it joined. The timer runs while the wheel has members.
final class PingWheel: Sendable {
    static let slots = 8

    let loop: any EventLoop
    let interval: TimeAmount
    /// Made on the loop at the first join; a class, so a join changes it in place.
    private let state: NIOLoopBoundBox<State?>

    private final class State {
        var slots = [[ObjectIdentifier: any PingWheelMember]](repeating: [:], count: PingWheel.slots)
        /// The slot ticked last, the one new members join.
        var cursor = 0
        /// Where each member is, to leave in one step.
        var slotOf: [ObjectIdentifier: Int] = [:]
        var timer: RepeatedTask?
    }

    init(loop: any EventLoop, interval: TimeAmount) {
        self.loop = loop
        self.interval = interval
        state = .makeEmptyBox(valueType: State.self, eventLoop: loop)
    }

    /// Adds `member`, ticked every interval from now on; call on the loop.
    func join(_ member: any PingWheelMember) {
        let s = state.value ?? State()
        state.value = s
        let id = ObjectIdentifier(member)
        guard s.slotOf[id] == nil else { return }
        s.slots[s.cursor][id] = member
        s.slotOf[id] = s.cursor
        if s.timer == nil {
            let step = TimeAmount.nanoseconds(max(1, interval.nanoseconds / Int64(Self.slots)))
            s.timer = loop.scheduleRepeatedTask(initialDelay: step, delay: step) { [weak self] _ in self?.tick() }
        }
    }

    /// Removes `member`; the timer stops with the last one. Call on the loop.
    func leave(_ member: any PingWheelMember) {
        guard let s = state.value else { return }
        let id = ObjectIdentifier(member)
        guard let slot = s.slotOf.removeValue(forKey: id) else { return }
        s.slots[slot][id] = nil
        if s.slotOf.isEmpty {
            s.timer?.cancel()
            s.timer = nil
        }
    }

    /// How many members the wheel has; call on the loop.
    var count: Int { state.value?.slotOf.count ?? 0 }

    private func tick() {
        guard let s = state.value else { return }
        s.cursor = (s.cursor + 1) % Self.slots
        let due = Array(s.slots[s.cursor].values)
        // Members may leave (a ping timeout closes the socket) while the slot is ticked.
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
