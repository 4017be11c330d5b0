import NIOCore

/// A weak, event-loop-bound reference to a socket's channel handler, for the
/// closures kept elsewhere (the inbox's resume, the queue's wake, the connection's
/// or session's close): nothing they keep holds a closed socket's handler alive.
/// One per socket, and a class, so each closure that keeps it holds one reference
/// rather than a copy of its own (`NativeSocketHandler`, `EngineSocketHandler`).
/// The weak reference is a struct held inline: one object per socket, not two.
final class SocketHandle<Handler: AnyObject>: Sendable {
    private let ref: NIOLoopBound<WeakRef>

    private struct WeakRef {
        weak var handler: Handler?
    }

    init(_ handler: Handler, eventLoop: any EventLoop) {
        ref = NIOLoopBound(WeakRef(handler: handler), eventLoop: eventLoop)
    }

    /// The handler, if it is still alive; call on its event loop.
    var value: Handler? { ref.value.handler }

    /// Runs `body` with the handler on its event loop, if it is still alive.
    func execute(_ body: @escaping @Sendable (Handler) -> Void) {
        ref.eventLoop.execute { if let handler = self.value { body(handler) } }
    }
}
