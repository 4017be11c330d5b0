import Foundation
import Mongo

/// One membership's offline queue, read as windows of seqs: `(above, above + size]`
/// towards the room's head as of the snapshot, the last one open (`seq > above`: what
/// was stored since the snapshot comes too), so a short backlog is one read. Each
/// window is one bounded range scan of `{roomId, seq}` on any MongoDB-wire server,
/// unsorted (the server walks the index; the page is sorted here, where it costs
/// next to nothing), so the database's work
/// for a window is that window's documents alone, and the first messages go out
/// after one window's read rather than the whole backlog's: the flush reads window
/// `n + 1` while it sends window `n`.
///
/// Why not one sorted cursor: an embedded server materialises a query's whole
/// result before its first batch (SecantusDB does), and sorts it again although the
/// index already gives seq order. Why not pages of `seq > cursor` with a limit:
/// such a server reads the whole rest of the room for each page.
public struct Backlog: Sendable {
    /// The seqs of one read: `(above, through]`, `through` nil for the open end.
    public struct Window: Sendable, Equatable {
        public let above: Int
        public let through: Int?
    }

    public let roomId: ObjectId
    /// In order; the last one is open.
    public let windows: [Window]
    let messages: any MessageRepository

    /// The windows of `roomId` above `after` (`windows(after:head:size:)`).
    init(messages: any MessageRepository, roomId: ObjectId, after: Int, head: Int, size: Int) {
        self.roomId = roomId
        self.windows = Self.windows(after: after, head: head, size: size)
        self.messages = messages
    }

    /// The windows above `after`: `size` seqs each while more than `size` remain below
    /// `head`, then the open one.
    static func windows(after: Int, head: Int, size: Int) -> [Window] {
        precondition(size > 0)
        var windows: [Window] = []
        var above = after
        while head - above > size {
            windows.append(Window(above: above, through: above + size))
            above += size
        }
        windows.append(Window(above: above, through: nil))
        return windows
    }

    /// Window `index`'s messages, ascending by seq (empty where the room has a gap).
    public func read(_ index: Int) async throws -> [MessageRecord] {
        let w = windows[index]
        var page = try await messages.window(roomId: roomId, above: w.above, through: w.through)
        page.sort { $0.seq < $1.seq }
        return page
    }
}
