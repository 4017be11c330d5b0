import Foundation
import Mongo
import ParleyCore

/// The signals of pushes this node has already encoded as frames (`Signal` itself is
/// in ParleyCore).
extension Signal {
    static func push(_ frame: PushFrame, to room: ObjectId, except user: ObjectId?) -> Signal {
        Signal(kind: .push, room: room, user: user, type: frame.type, json: String(decoding: frame.data, as: UTF8.self))
    }

    static func push(_ frame: PushFrame, toRooms rooms: [ObjectId], except user: ObjectId?) -> Signal {
        Signal(kind: .rooms, rooms: rooms, user: user, type: frame.type, json: String(decoding: frame.data, as: UTF8.self))
    }

    static func pushToEveryone(_ frame: PushFrame) -> Signal {
        Signal(kind: .everyone, type: frame.type, json: String(decoding: frame.data, as: UTF8.self))
    }

    static func push(_ frame: PushFrame, toUser user: ObjectId) -> Signal {
        Signal(kind: .user, user: user, type: frame.type, json: String(decoding: frame.data, as: UTF8.self))
    }

    /// The push this signal carries, as a frame.
    var frame: PushFrame? {
        guard let type, let json else { return nil }
        return PushFrame(type: type, json: Array(json.utf8))
    }
}
