import Mongo
import Synchronization

/// The messages each sender stored recently on this node, by `clientId`: a retry
/// (the usual case is a client resending after a reconnect) is answered without a
/// database round trip. Bounded: a sender keeps its last `perSender` sends, and the
/// whole cache is dropped past `maxSenders` senders; the unique index behind it keeps
/// correctness when an entry is gone.
final class RecentSends: Sendable {
    private struct Sender {
        var byClientId: [String: MessageRecord] = [:]
        var order: [String] = []

        /// Remembers `message`, forgetting the oldest past `limit`.
        mutating func remember(_ message: MessageRecord, limit: Int) {
            guard byClientId.updateValue(message, forKey: message.clientId) == nil else { return }
            order.append(message.clientId)
            if order.count > limit {
                let dropped = order.count - limit
                for key in order.prefix(dropped) { byClientId[key] = nil }
                order.removeFirst(dropped)
            }
        }
    }

    private let perSender: Int
    private let maxSenders: Int
    private let senders = Mutex<[ObjectId: Sender]>([:])

    init(perSender: Int = 256, maxSenders: Int = 50_000) {
        self.perSender = perSender
        self.maxSenders = maxSenders
    }

    func lookup(sender: ObjectId, clientId: String) -> MessageRecord? {
        senders.withLock { $0[sender]?.byClientId[clientId] }
    }

    func remember(_ message: MessageRecord) {
        senders.withLock { all in
            if all.count >= maxSenders, all[message.senderId] == nil { all.removeAll(keepingCapacity: true) }
            // Mutated in place: copying a sender out and back would copy its table each time.
            all[message.senderId, default: Sender()].remember(message, limit: perSender)
        }
    }
}
