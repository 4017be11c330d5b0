import Mongo

/// A message the send pipeline stored, as fan-out gets it.
public struct StoredMessage: Sendable {
    public let record: MessageRecord
    /// The connection it came from (fan-out skips it), nil for REST and tools.
    public let origin: UInt64?
    /// Its wire bytes, shared with the sender's ack (`WireBytes`).
    public let encoded: WireBytes

    public init(record: MessageRecord, origin: UInt64?, encoded: WireBytes = WireBytes()) {
        self.record = record
        self.origin = origin
        self.encoded = encoded
    }
}

/// Where stored messages go: the server's fan-out to live connections. Handed to the
/// send pipeline when it is made, so a message can never be stored with nowhere to go.
public protocol StoredMessageSink: Sendable {
    /// One room's messages of one write, in seq order; called once the write is
    /// stored, before the acks.
    func stored(_ messages: [StoredMessage], in roomId: ObjectId)
}
