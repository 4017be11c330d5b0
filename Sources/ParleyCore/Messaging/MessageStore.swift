import Foundation
import Mongo

/// What makes a send unique: its sender and `clientId`.
public struct ClientKey: Hashable, Sendable {
    public let sender: ObjectId
    public let clientId: String

    public init(sender: ObjectId, clientId: String) {
        self.sender = sender
        self.clientId = clientId
    }
}

/// Why an ordered insert stopped, typed, so the send path never reads error text or
/// index names. Everything before `at` was stored, nothing from `at` on.
public enum StoreRefusal: Error, Sendable, Equatable {
    /// Another writer (a node, or this one before a restart) stored that seq first.
    case seqTaken(at: Int)
    /// The sender stored that `clientId` before: a retry.
    case clientIdTaken(at: Int)
    /// The store refused that document for another reason (a validator, say): a bug,
    /// not something a retry fixes.
    case rejected(at: Int)
    /// The store could not be reached or broke off; what landed is unknown. With
    /// `timedOut` the operation's deadline is spent as well: nothing more is tried.
    case unavailable(timedOut: Bool)
}

/// The storage the send path writes through: messages, and the rooms' recorded
/// `lastSeq`. Implemented over the repositories (`RepositoryMessageStore`); tests of
/// the pure logic use an in-memory one.
public protocol MessageStore: Sendable {
    /// Inserts in order; throws `StoreRefusal` for the refusals it knows, and any other
    /// error for the rest.
    func insert(_ messages: [MessageRecord]) async throws
    /// The messages stored under any of these keys.
    func originals(of keys: [ClientKey]) async throws -> [MessageRecord]
    /// The highest seq stored in a room above `seq`, or `seq` when there is none.
    func highestSeq(roomId: ObjectId, above seq: Int) async throws -> Int
    /// Which of these ids are stored.
    func stored(ids: [ObjectId]) async throws -> Set<ObjectId>
    /// The recorded `lastSeq` of each room that exists.
    func lastSeqs(of rooms: [ObjectId]) async throws -> [ObjectId: Int]
    /// Raises rooms' `lastSeq` (and `lastMessageAt`) to at least the given values.
    func raiseLastSeq(_ marks: [ObjectId: Int], at time: Date) async throws
    /// The same, and each room's `lastMessage` to the latest of these, where it is
    /// newer than the one recorded.
    func raiseLastSeq(_ marks: [ObjectId: Int], latest: [MessageRecord], at time: Date) async throws
}

extension MessageStore {
    public func raiseLastSeq(_ marks: [ObjectId: Int], latest: [MessageRecord], at time: Date) async throws {
        try await raiseLastSeq(marks, at: time)
    }
}

/// `MessageStore` over the repositories. It alone knows how MongoDB reports a refusal:
/// a duplicate key names the unique index's fields (`keyPattern`), matched against the
/// two indexes of `messages` (migration 0001).
public struct RepositoryMessageStore: MessageStore {
    let repos: ParleyRepositories

    /// The fields of `messages`' unique indexes.
    static let seqIndex = ["roomId", "seq"]
    static let clientIdIndex = ["senderId", "clientId"]

    public init(repos: ParleyRepositories) { self.repos = repos }

    public func insert(_ messages: [MessageRecord]) async throws {
        do {
            try await repos.messages.insert(messages)
        } catch let e as MongoError {
            throw Self.refusal(e) ?? e
        }
    }

    /// The typed refusal a driver error stands for, if any.
    static func refusal(_ e: MongoError) -> StoreRefusal? {
        if let first = e.writeErrors.min(by: { $0.index < $1.index }) {
            if first.isDuplicateKey(on: seqIndex) { return .seqTaken(at: first.index) }
            if first.isDuplicateKey(on: clientIdIndex) { return .clientIdTaken(at: first.index) }
            return .rejected(at: first.index)
        }
        return e.isTransient ? .unavailable(timedOut: e.code == .timeout) : nil
    }

    public func originals(of keys: [ClientKey]) async throws -> [MessageRecord] {
        try await repos.messages.find(clientKeys: keys.map { ($0.sender, $0.clientId) })
    }

    public func highestSeq(roomId: ObjectId, above seq: Int) async throws -> Int {
        try await repos.messages.highestSeq(roomId: roomId, above: seq)
    }

    public func stored(ids: [ObjectId]) async throws -> Set<ObjectId> { try await repos.messages.stored(ids: ids) }

    public func lastSeqs(of rooms: [ObjectId]) async throws -> [ObjectId: Int] {
        Dictionary(try await repos.rooms.find(ids: rooms).map { ($0.id, $0.lastSeq) }, uniquingKeysWith: max)
    }

    public func raiseLastSeq(_ marks: [ObjectId: Int], at time: Date) async throws {
        try await repos.rooms.raiseLastSeq(marks, at: time)
    }

    public func raiseLastSeq(_ marks: [ObjectId: Int], latest: [MessageRecord], at time: Date) async throws {
        try await repos.rooms.raiseLastSeq(marks, latest: latest, at: time)
    }
}
