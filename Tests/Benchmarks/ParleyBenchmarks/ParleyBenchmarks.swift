import Benchmark
import Foundation
import Mongo
import ParleyCore
import ParleyServer

/// The per-item costs fan-out, the offline flush, the send path and the read loop
/// are made of: a stored message to its frame (native and Socket.IO), a batch of
/// BSON message documents decoded (what a flush reads per cursor batch), a
/// message's search words and its BSON for the insert, an inbound frame decoded. `bash scripts/microbench.sh` runs them.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput], maxDuration: .seconds(2), maxIterations: 100_000)

    let room = ObjectId(), sender = ObjectId()
    func message(_ seq: Int) -> MessageRecord {
        let text = "t=\(seq);" + String(repeating: "x", count: 100)
        return MessageRecord(
            roomId: room, seq: seq, senderId: sender, senderName: "bench", text: text, clientId: "c\(seq)",
            extras: MessageExtras(words: SearchWords.index(text)))
    }
    let record = message(1)

    Benchmark("stored message to its /ws frame") { b in
        for _ in b.scaledIterations { blackHole(try WireCodecs.nativeFrame(record)) }
    }
    Benchmark("stored message to its Socket.IO frame") { b in
        for _ in b.scaledIterations { blackHole(try WireCodecs.socketIOFrame(record)) }
    }

    // One cursor batch of the flush: 1,000 documents' bytes to messages.
    let batch = (1...1_000).map { try! BSONEncoder().encode(message($0)).bsonBytes() }
    Benchmark("1,000 BSON message documents decoded", configuration: .init(maxIterations: 1_000)) { b in
        for _ in b.scaledIterations {
            for bytes in batch { blackHole(try BSONDecoder().decode(MessageRecord.self, from: try BSONDocument(bsonBytes: bytes))) }
        }
    }

    // What the send path makes of each message before its insert.
    let text = record.text
    Benchmark("search words of a 122-character ASCII message (ASCII path)") { b in
        for _ in b.scaledIterations { blackHole(SearchWords.asciiWords(text)) }
    }
    Benchmark("search words of the same message through the Unicode rules") { b in
        for _ in b.scaledIterations { blackHole(SearchWords.unicodeWords(text)) }
    }
    Benchmark("stored message to its BSON bytes (written by hand)") { b in
        for _ in b.scaledIterations { blackHole(try BSONEncoder().encode(record).bsonBytes()) }
    }
    Benchmark("stored message to its BSON bytes through the Codable encoder") { b in
        for _ in b.scaledIterations { blackHole(try BSONEncoder().encode(ThroughCodable(record: record)).bsonBytes()) }
    }

    let send = Data(#"{"type":"message:send","id":"42","data":{"roomId":"\#(room.hex)","text":"hello there","clientId":"c-42"}}"#.utf8)
    Benchmark("inbound message:send frame decoded") { b in
        for _ in b.scaledIterations { blackHole(try WireCodecs.decodeInbound(send)) }
    }
}

/// Hides a message's own document, so `BSONEncoder` takes the Codable path.
struct ThroughCodable: Encodable {
    let record: MessageRecord
    func encode(to encoder: any Encoder) throws { try record.encode(to: encoder) }
}
