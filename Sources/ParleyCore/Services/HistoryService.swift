import Foundation
import Mongo

/// Reading messages and moving read cursors, for members only.
public struct HistoryService: Sendable {
    public let rooms: RoomService
    public let cursors: CursorService
    public static let defaultLimit = 50
    public static let maxLimit = 200

    public init(rooms: RoomService, cursors: CursorService) {
        self.rooms = rooms
        self.cursors = cursors
    }

    private var repos: ParleyRepositories { rooms.repos }

    /// Validates paging parameters: seqs not negative, `limit` 1 to 200.
    public static func checkPaging(before: Int?, after: Int?, limit: Int?) throws -> Int {
        if let before, before < 0 { throw ParleyError(.badRequest, "before must be a seq, 0 or more") }
        if let after, after < 0 { throw ParleyError(.badRequest, "after must be a seq, 0 or more") }
        let limit = limit ?? defaultLimit
        guard (1...maxLimit).contains(limit) else { throw ParleyError(.badRequest, "limit must be 1 to \(maxLimit)") }
        return limit
    }

    /// A page of a room's messages, for a member.
    public func history(roomId: ObjectId, user: UserRecord, before: Int?, after: Int?, limit: Int?) async throws -> MessagePage {
        let limit = try HistoryService.checkPaging(before: before, after: after, limit: limit)
        _ = try await rooms.memberRoom(roomId, for: user)
        return try await repos.messages.page(roomId: roomId, before: before, after: after, limit: limit)
    }

    /// Validates a join's `historyLimit`: 0 (none) to 200, default 50. Checked before
    /// the join, so a bad value joins nothing.
    public static func checkHistoryLimit(_ limit: Int?) throws -> Int {
        let limit = limit ?? defaultLimit
        guard (0...maxLimit).contains(limit) else { throw ParleyError(.badRequest, "historyLimit must be 0 to \(maxLimit)") }
        return limit
    }

    /// The newest `limit` messages (from `checkHistoryLimit`) of a room, for a caller
    /// already known to be a member (a join's history).
    public func latest(roomId: ObjectId, limit: Int) async throws -> [MessageRecord] {
        guard limit > 0 else { return [] }
        return try await repos.messages.page(roomId: roomId, before: nil, after: nil, limit: limit).messages
    }

    /// The direct conversation of two users, for one of them. No room yet: no messages.
    public func conversation(
        between userId1: ObjectId, and userId2: ObjectId, caller: UserRecord, before: Int?, after: Int?, limit: Int?
    ) async throws -> (roomId: ObjectId?, page: MessagePage) {
        let limit = try HistoryService.checkPaging(before: before, after: after, limit: limit)
        guard caller.id == userId1 || caller.id == userId2 else {
            throw ParleyError(.forbidden, "only the two participants may read a conversation")
        }
        let otherId = caller.id == userId1 ? userId2 : userId1
        guard let other = try await repos.users.find(id: otherId) else { throw ParleyError(.notFound, "no such user") }
        guard let room = try await rooms.directRoom(between: caller, and: other, create: false) else {
            return (nil, MessagePage(messages: [], hasMore: false))
        }
        return (room.id, try await repos.messages.page(roomId: room.id, before: before, after: after, limit: limit))
    }

    /// Marks everything up to `seq` (default: the latest message) as read, and so
    /// delivered. A seq beyond the latest is capped to it; cursors never move back.
    public func markRead(roomId: ObjectId, user: UserRecord, seq: Int?) async throws -> MembershipRecord {
        try await moveCursor(roomId: roomId, user: user, seq: seq, read: true)
    }

    /// Moves the delivered or read cursor (`nil` seq: the latest message), capped at
    /// the room's last seq (`RoomService.head(of:)`, or `settledHead` past it: a client may
    /// confirm a message before `lastSeq` catches up). One read (the room) and one coalesced
    /// write, which also tells membership: a non-member gets `forbidden` for a room
    /// they can see and `not_found` for one they cannot.
    public func moveCursor(roomId: ObjectId, user: UserRecord, seq: Int?, read: Bool, updateSeq: Int? = nil) async throws -> MembershipRecord {
        if let seq, seq < 0 { throw ParleyError(.badRequest, "seq must be 0 or more") }
        if let updateSeq, updateSeq < 0 { throw ParleyError(.badRequest, "updateSeq must be 0 or more") }
        guard let room = try await repos.rooms.find(id: roomId) else { throw ParleyError(.notFound, "no such room") }
        // Past what this node knows, the database says whether the seq is stored (a
        // message acked just before a crash); below it, no read is needed.
        let known = rooms.head(of: room)
        let head = seq.map { $0 <= known } == true ? known : try await rooms.settledHead(of: room)
        let target = min(seq ?? head, head)
        // An update sequence past the room's is capped to it, as a seq past the head is.
        let updates = updateSeq.map { min($0, room.updateSeq ?? 0) }
        guard
            let updated = try await cursors.advance(
                roomId: roomId, userId: user.id, delivered: read ? nil : target, read: read ? target : nil, updates: updates)
        else {
            throw room.isVisibleToNonMembers
                ? ParleyError(.forbidden, "you are not a member of this room") : ParleyError(.notFound, "no such room")
        }
        return updated
    }

    /// Who among the other members has received and read a message.
    public func status(messageId: ObjectId, user: UserRecord) async throws -> (message: MessageRecord, deliveredTo: [ObjectId], readBy: [ObjectId]) {
        guard let message = try await repos.messages.find(id: messageId) else { throw ParleyError(.notFound, "no such message") }
        do {
            _ = try await rooms.memberRoom(message.roomId, for: user)
        } catch let e as ParleyError where e.code == .forbidden {
            throw ParleyError(.notFound, "no such message")
        }
        let delivered = try await repos.memberships.userIds(roomId: message.roomId, cursor: .delivered, atLeast: message.seq)
        let read = try await repos.memberships.userIds(roomId: message.roomId, cursor: .read, atLeast: message.seq)
        return (message, delivered.filter { $0 != message.senderId }, read.filter { $0 != message.senderId })
    }
}
