import NIOCore

/// An event-loop-bound reference to a socket's channel handler, for the closures kept
/// elsewhere (the inbox's resume, the queue's wake, the connection's or session's
/// close): the handler empties it when it leaves the pipeline (`handlerRemoved`, at
/// the latest when the channel closes), so nothing they keep holds a closed socket's
/// handler (and its connection and session) alive. One per socket, and a class, so
/// each closure that keeps it holds one reference rather than a copy of its own
/// (`NativeSocketHandler`, `EngineSocketHandler`). A plain box rather than a weak
/// reference: a weak one costs every socket a side table besides the box.
typealias SocketHandle<Handler: AnyObject> = NIOLoopBoundBox<Handler?>

extension NIOLoopBoundBox {
    /// Runs `body` with the handler on its event loop, if it still serves its socket.
    func execute<Handler: AnyObject>(_ body: @escaping @Sendable (Handler) -> Void) where Value == Handler? {
        eventLoop.execute { if let handler = self.value { body(handler) } }
    }
}
