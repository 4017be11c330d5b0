import Benchmark
import Foundation
import Mongo
import ParleyCore
import ParleyServer

/// The per-item costs fan-out, the offline flush and the read loop are made of:
/// a stored message to its frame (native and Socket.IO), a batch of BSON message
/// documents decoded (what a flush reads per cursor batch), an inbound frame
/// decoded. `bash scripts/microbench.sh` runs them.
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

    let send = Data(#"{"type":"message:send","id":"42","data":{"roomId":"\#(room.hex)","text":"hello there","clientId":"c-42"}}"#.utf8)
    Benchmark("inbound message:send frame decoded") { b in
        for _ in b.scaledIterations { blackHole(try WireCodecs.decodeInbound(send)) }
    }
}
