/// Where one batch's time went on the node that stored it. Latency at a load is the
/// sum of these and the socket's write (recorded by the server beside them), so the
/// database's share (`insert`) reads apart from Parley's (the rest).
public struct SendStages: Sendable {
    /// From the batch's oldest submission joining the queue to the batch starting.
    public var queueWait: Duration
    /// The write: numbering, the ordered insert and its retries.
    public var insert: Duration
    /// Each room's messages handed to fan-out (encoded and queued for the members'
    /// sockets, and in a cluster published to the other nodes).
    public var fanout: Duration
    /// Submissions in the batch.
    public var messages: Int

    public init(queueWait: Duration, insert: Duration, fanout: Duration, messages: Int) {
        self.queueWait = queueWait
        self.insert = insert
        self.fanout = fanout
        self.messages = messages
    }
}

/// Told of each batch's stages once its senders are answered (the server's metrics).
public protocol SendStageObserver: Sendable {
    func batchWritten(_ stages: SendStages)
}
