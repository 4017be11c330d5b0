import Foundation
import NIOCore
import ParleyCore

/// The encode and decode steps that fan-out, the offline flush and a socket's read
/// loop spend on, callable from the micro benchmarks (`Tests/Benchmarks`). Package
/// access only, so the server's own types stay internal.
package enum WireCodecs {
    /// A stored message as fan-out frames it for `/ws`: its JSON, then the envelope.
    package static func nativeFrame(_ record: MessageRecord) throws -> ByteBuffer {
        PushFrame(type: "message:new", json: try MessageJSON.reply(record)).native
    }

    /// The same for Socket.IO: `42["message:new",{...}]`.
    package static func socketIOFrame(_ record: MessageRecord) throws -> ByteBuffer {
        PushFrame(type: "message:new", json: try MessageJSON.reply(record)).socketIO
    }

    /// A client's `/ws` frame decoded into its typed event, as the read loop does;
    /// true when it is one the server knows.
    package static func decodeInbound(_ frame: Data) throws -> Bool {
        if case .success = try ClientFrame.decode(frame).event { return true }
        return false
    }
}
