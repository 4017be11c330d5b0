import Foundation
import Logging
import Mongo
import ParleyCore

/// One authenticated client session, whatever the transport: registration with the
/// hub and presence, `ready`, the offline-queue flush and `sync:done`, event
/// dispatch with acks, and the goodbye.
///
/// A socket keeps its session for as long as it is open, so the session keeps only
/// two references: its framing is a type (`Dialect`, an empty struct) rather than a
/// value, and its logger is the server's.
struct RealtimeSession<Dialect: WireDialect>: Sendable {
    let services: ParleyServices
    let connection: Connection

    init(services: ParleyServices, connection: Connection, dialect: Dialect.Type) {
        self.services = services
        self.connection = connection
    }

    private var dialect: Dialect { Dialect() }
    private var logger: Logger { services.logger }

    private var events: RealtimeEvents { RealtimeEvents(services: services) }

    struct Ready: Encodable {
        let user: User
        let rooms: [Room]
    }

    struct SyncDone: Encodable {
        let rooms: Int
        let messages: Int
        /// `message:updated` pushes of the flush: what changed while the user was away.
        let updates: Int
        /// Per room with changes, the update sequence the flush covers: the client
        /// acknowledges it (`message:delivered {roomId, seq, updateSeq}`) once it has
        /// the flush, and is sent none of those changes again.
        let updateSeqs: [String: Int]
    }

    /// Offline-queue messages queued at once: well under half the smallest queue
    /// bound (`OUTBOUND_QUEUE_FRAMES` ≥ 1,024), which `waitForRoom` waits below.
    static var flushSlice: Int { 256 }

    /// Registers the connection and sends `ready`, the offline queue and `sync:done`.
    func open() async throws {
        // A session opened while the server drains for shutdown is told to go elsewhere.
        guard !services.hub.isDraining else {
            connection.disconnect(.shutdown)
            return
        }
        let user = connection.user
        let snapshot = try await services.sync.snapshot(for: user)
        var cameOnline = false
        let registered = connection.register {
            services.hub.add(connection, rooms: snapshot.memberships.map(\.roomId))
            services.metrics.openWebSockets.increment()
            cameOnline = services.presence.connect(user.id)
        }
        guard registered else { return }  // the transport ended while we were opening
        if cameOnline {
            services.cluster?.cameOnlineHere(user.id)
            services.notifier.presenceChanged(userId: user.id, status: user.status == .offline ? .online : user.status, lastSeenAt: user.lastSeenAt)
        }
        connection.sendDuringSync(try PushFrame(type: "ready", data: Ready(user: User(user, online: true), rooms: snapshot.rooms)))

        // The offline queue; live pushes meanwhile are held, and the ones it covered
        // are dropped at `finishSync`.
        var flushedUpTo: [ObjectId: Int] = [:]
        var messageCount = 0
        // Every room's windows in turn; the database reads the next window (of this
        // room or the next) while this one is encoded and sent: the flush goes at the
        // pace of the slower of the two, not of their sum.
        let reads = snapshot.owed.map { services.sync.backlog(of: $0, in: snapshot) }.flatMap { b in b.windows.indices.map { (b, $0) } }
        for m in snapshot.owed { flushedUpTo[m.roomId] = m.deliveredSeq }
        // One read ahead is enough: sending a window takes a fraction of its read, and
        // a second read in flight measured no faster on the embedded database (it
        // serves one read at a time) while taking more of it from everyone else.
        func read(_ position: Int) -> Task<[MessageRecord], any Error>? {
            guard position < reads.count else { return nil }
            let (backlog, window) = reads[position]
            return Task { try await backlog.read(window) }
        }
        var next = read(0)
        defer { next?.cancel() }
        for position in reads.indices {
            guard let page = try await next?.value else { break }
            next = read(position + 1)
            // A queue operation (one lock, one wake-up of the writer) per slice; a
            // backlog of thousands goes out at the client's pace, never past the
            // queue's bound (which would cut it as a slow consumer).
            for start in stride(from: 0, to: page.count, by: Self.flushSlice) {
                let slice = page[start..<min(page.count, start + Self.flushSlice)]
                connection.sendDuringSync(try slice.map { PushFrame(type: "message:new", json: try MessageJSON.reply($0)) })
                await connection.outbound.waitForRoom()
            }
            messageCount += page.count
            if let last = page.last { flushedUpTo[last.roomId] = last.seq }
        }
        // Then what changed meanwhile among the messages they had (at least once: the
        // client acknowledges with `updateSeq`).
        var updateCount = 0
        for m in snapshot.changed {
            for changed in try await services.sync.changes(of: m) {
                let push = MessageActions.Updated(message: Message(changed), updateSeq: changed.useq ?? 0)
                connection.sendDuringSync(try PushFrame(type: "message:updated", data: push))
                updateCount += 1
            }
            await connection.outbound.waitForRoom()
        }
        let roomCount = Set(snapshot.owed.map(\.roomId)).union(snapshot.changed.map(\.roomId)).count
        let covered = Dictionary(snapshot.rooms.compactMap { r in r.updateSeq.map { (r.id, $0) } }, uniquingKeysWith: max)
        connection.sendDuringSync(
            try PushFrame(type: "sync:done", data: SyncDone(rooms: roomCount, messages: messageCount, updates: updateCount, updateSeqs: covered)))
        connection.finishSync(flushedUpTo: flushedUpTo)
    }

    /// Handles one native frame: decoded once (`ClientFrame`), then `dispatch`.
    func receive(_ frame: Data) async {
        let decoded: ClientFrame
        do {
            decoded = try ClientFrame.decode(frame)
        } catch {
            let problem = ParleyError(.badRequest, "malformed frame: expected a JSON object {\"type\", \"id\"?, \"data\"?}")
            // With a usable id, the failure is its ack, as for any other request.
            fail(ClientFrame.id(of: frame), problem)
            return
        }
        await dispatch(decoded)
    }

    /// Runs one event and sends the ack (when the request had an id) or an `error`
    /// push (when it had none and failed). Called one frame at a time, in the order
    /// the client sent them; the answers to message sends, stored or refused, go out
    /// in that order (`Connection.enqueueSendAck`).
    func dispatch(_ frame: ClientFrame) async {
        let id = frame.id
        guard case .success(let event) = frame.event else {
            if case .failure(let e) = frame.event { ClientEvent.isSend(frame.type) ? connection.enqueueSendAck { fail(id, e) } : fail(id, e) }
            return
        }
        await perform(event, isSend: ClientEvent.isSend(frame.type)) { result in
            switch result {
            case .success(let data): reply(id, data)
            case .failure(let e): fail(id, e)
            }
        }
    }

    /// Runs one event and hands its outcome to `answer`: at once, or for a message
    /// send once stored, behind the answers of the sends before it, never ahead (a
    /// refused send is answered in its turn too). The dialects answer with their own
    /// events through this.
    func perform(
        _ event: ClientEvent, isSend: Bool, answer: @escaping @Sendable (Result<any Encodable & Sendable, ParleyError>) async -> Void
    ) async {
        do {
            switch try await events.handle(event, connection: connection) {
            case .now(let data):
                await answer(.success(data))
            case .later(let wait):
                connection.enqueueSendAck {
                    do {
                        await answer(.success(try await wait()))
                    } catch {
                        await answer(.failure(ParleyError.from(error)))
                    }
                }
            }
        } catch {
            let e = ParleyError.from(error)
            if isSend { connection.enqueueSendAck { await answer(.failure(e)) } } else { await answer(.failure(e)) }
        }
    }

    private func reply(_ id: RequestID?, _ data: any Encodable & Sendable) {
        guard let id else { return }
        do {
            connection.reply(try dialect.ack(id: id, data: data))
        } catch {
            fail(id, error)
        }
    }

    /// Sends an error for a request, or as an `error` push when it had no id.
    func fail(_ id: RequestID?, _ error: any Error) {
        let p = ParleyError.from(error)
        if p.code == .internal { logger.error("event failed for \(connection.user.username): \(error)") }
        connection.reply(id.map { dialect.ackError(id: $0, p) } ?? dialect.error(p))
    }

    /// Unregisters the connection; the user's last connection takes them offline.
    /// The offline push goes out while the hub still knows the user's rooms, and after
    /// `lastSeenAt` is stored: a client that reads the user once it has the push finds
    /// the same `lastSeenAt` (CI once read the user before the write had landed).
    func close() async {
        // A connection that never got registered (open failed early, or the transport
        // ended first) leaves no trace; the goodbye runs once.
        guard connection.takeRegistration() else { return }
        let userId = connection.userId
        let leftHere = services.presence.disconnect(userId)
        if leftHere { services.cluster?.wentOfflineHere(userId) }
        // Offline only when no node has the user any more.
        if leftHere, !services.presence.isOnline(userId) {
            let now = Date().bsonPrecision
            try? await services.accounts.setPresence(id: userId, status: nil, lastSeenAt: now)
            // Back meanwhile: their `online` push has gone out, so no `offline` after it.
            if !services.presence.isOnline(userId) {
                services.notifier.presenceChanged(userId: userId, status: .offline, lastSeenAt: now)
            }
        }
        services.hub.remove(connection)
        services.metrics.openWebSockets.decrement()
    }
}
