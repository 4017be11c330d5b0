import Mongo
import ParleyCore
import Synchronization

/// A `StoredMessageSink` for tests of the send path: keeps what it was told, per room,
/// in the order it was told.
public final class RecordingSink: StoredMessageSink {
    private let received = Mutex<[ObjectId: [MessageRecord]]>([:])

    public init() {}

    public func stored(_ messages: [StoredMessage], in roomId: ObjectId) {
        received.withLock { $0[roomId, default: []] += messages.map(\.record) }
    }

    /// The seqs announced for a room, in the order they were announced.
    public func seqs(in roomId: ObjectId) -> [Int] { received.withLock { ($0[roomId] ?? []).map(\.seq) } }

    /// Every message announced, all rooms.
    public var all: [MessageRecord] { received.withLock { $0.values.flatMap { $0 } } }
}
