import Foundation
import Hummingbird
import Mongo
import ParleyCore

/// `/api/messages`: room and conversation history paged by seq, read cursors, and
/// per-message delivery status.
struct MessageController {
    let services: ParleyServices

    struct Page: Encodable {
        let messages: [Message]
        let hasMore: Bool
    }

    struct ConversationPage: Encodable {
        let roomId: String?
        let messages: [Message]
        let hasMore: Bool

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(roomId, forKey: .roomId)
            try c.encode(messages, forKey: .messages)
            try c.encode(hasMore, forKey: .hasMore)
        }
        enum CodingKeys: String, CodingKey { case roomId, messages, hasMore }
    }

    struct ReadBody: Decodable { let seq: Int? }
    struct ReadReply: Encodable { let readSeq: Int }

    struct StatusReply: Encodable {
        let messageId: String
        let seq: Int
        let deliveredTo: [String]
        let readBy: [String]
    }

    func addRoutes(to group: RouterGroup<ParleyRequestContext>) {
        group.get("messages/room/:roomId") { request, context in
            let id = try context.objectIdParameter("roomId", what: "room")
            let page = try await services.history.history(
                roomId: id, user: try context.requireUser(), before: try request.queryInt("before"), after: try request.queryInt("after"),
                limit: try request.queryInt("limit"))
            return try JSONResponse.make(Page(messages: page.messages.map(Message.init), hasMore: page.hasMore))
        }
        group.get("messages/conversation/:userId1/:userId2") { request, context in
            let a = try context.objectIdParameter("userId1", what: "user")
            let b = try context.objectIdParameter("userId2", what: "user")
            let (roomId, page) = try await services.history.conversation(
                between: a, and: b, caller: try context.requireUser(), before: try request.queryInt("before"),
                after: try request.queryInt("after"), limit: try request.queryInt("limit"))
            return try JSONResponse.make(ConversationPage(roomId: roomId?.hex, messages: page.messages.map(Message.init), hasMore: page.hasMore))
        }
        group.put("messages/read/:roomId") { request, context in
            let id = try context.objectIdParameter("roomId", what: "room")
            let body = try await request.decodeJSON(ReadBody.self, limit: services.config.maxBodyBytes, allowEmpty: true)
            let membership = try await services.history.markRead(roomId: id, user: try context.requireUser(), seq: body.seq)
            services.notifier.cursorMoved(membership)
            return try JSONResponse.make(ReadReply(readSeq: membership.readSeq))
        }
        group.get("messages/:messageId/status") { _, context in
            let id = try context.objectIdParameter("messageId", what: "message")
            let s = try await services.history.status(messageId: id, user: try context.requireUser())
            return try JSONResponse.make(
                StatusReply(messageId: s.message.id.hex, seq: s.message.seq, deliveredTo: s.deliveredTo.map(\.hex), readBy: s.readBy.map(\.hex)))
        }
    }
}
