import Mongo

/// Where stored messages go: the server's fan-out to live connections. Handed to the
/// send pipeline when it is made, so a message can never be stored with nowhere to go.
public protocol StoredMessageSink: Sendable {
    /// One room's messages of one write, in seq order, each with the connection it came
    /// from (skipped by fan-out); called once the write is stored, before the acks.
    func stored(_ messages: [(message: MessageRecord, origin: UInt64?)], in roomId: ObjectId)
}
