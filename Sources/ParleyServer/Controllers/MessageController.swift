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
        addMessageFeatures(to: group)
        group.get("messages/:messageId/status") { _, context in
            let id = try context.objectIdParameter("messageId", what: "message")
            let s = try await services.history.status(messageId: id, user: try context.requireUser())
            return try JSONResponse.make(
                StatusReply(messageId: s.message.id.hex, seq: s.message.seq, deliveredTo: s.deliveredTo.map(\.hex), readBy: s.readBy.map(\.hex)))
        }
    }

    struct EditBody: Decodable { let text: String }

    /// Contract v2: REST send, edits, deletes, reactions, threads, pins, search.
    private func addMessageFeatures(to group: RouterGroup<ParleyRequestContext>) {
        let actions = MessageActions(services: services)
        group.post("rooms/:roomId/messages") { request, context in
            let roomId = try context.objectIdParameter("roomId", what: "room")
            let r = try await request.decodeJSON(MessageSender.Request.self, limit: services.config.maxBodyBytes)
            let outcome = try await MessageSender(services: services).submit(r, to: roomId, from: try context.requireUser(), origin: nil).value()
            let data = try WireFrames.message(outcome.message, in: outcome.encoded)
            return try JSONResponse.make(data, status: outcome.isNew ? .created : .ok)
        }
        group.get("rooms/:roomId/pins") { _, context in
            try JSONResponse.make(try await actions.pins(try context.objectIdParameter("roomId", what: "room"), user: try context.requireUser()))
        }
        group.get("messages/search") { request, context in
            let q = request.uri.queryParameters
            guard let text = q.get("q") else { throw ParleyError(.badRequest, "q is required") }
            let found = try await services.search.search(
                .init(q: text, roomId: q.get("roomId"), senderId: q.get("senderId"), before: q.get("before"), limit: try request.queryInt("limit")),
                for: try context.requireUser())
            return try JSONResponse.make(Page(messages: found.messages.map(Message.init), hasMore: found.hasMore))
        }
        group.patch("messages/:messageId") { request, context in
            let body = try await request.decodeJSON(EditBody.self, limit: services.config.maxBodyBytes)
            return try JSONResponse.make(try await actions.edit(try messageId(context), in: nil, text: body.text, user: try context.requireUser()))
        }
        group.delete("messages/:messageId") { _, context in
            try await actions.delete(try messageId(context), in: nil, user: try context.requireUser())
            return Response(status: .noContent)
        }
        group.put("messages/:messageId/reactions/:emoji") { _, context in
            try JSONResponse.make(try await actions.react(try messageId(context), in: nil, emoji: try emoji(context), add: true, user: try context.requireUser()))
        }
        group.delete("messages/:messageId/reactions/:emoji") { _, context in
            try JSONResponse.make(try await actions.react(try messageId(context), in: nil, emoji: try emoji(context), add: false, user: try context.requireUser()))
        }
        group.get("messages/:messageId/thread") { request, context in
            try JSONResponse.make(
                try await actions.thread(try messageId(context), after: try request.queryInt("after"), limit: try request.queryInt("limit"), user: try context.requireUser()))
        }
    }

    private func messageId(_ context: ParleyRequestContext) throws -> String { try context.objectIdParameter("messageId", what: "message").hex }

    /// The emoji path segment, percent-decoded (`%F0%9F%91%8D` is 👍).
    private func emoji(_ context: ParleyRequestContext) throws -> String {
        guard let raw = context.parameters.get("emoji"), let e = raw.removingPercentEncoding else { throw ParleyError(.badRequest, "emoji is required") }
        return e
    }
}
