import Dispatch
import Foundation

/// Splits loops over the machine's cores. Work below `grain` items per chunk runs on the
/// calling thread, since dispatching costs more than small loops.
enum Parallel {
    static let coreCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` with disjoint ranges covering 0..<count, concurrently.
    @inline(__always)
    static func forEachChunk(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        forEachIndexedChunk(count, grain: grain) { _, range in body(range) }
    }

    /// As `forEachChunk`, also passing each chunk's index in 0..<chunkCount(count, grain:),
    /// so that chunks can write per-chunk partial results without sharing a slot.
    @inline(__always)
    static func forEachIndexedChunk(_ count: Int, grain: Int, _ body: (Int, Range<Int>) -> Void) {
        let chunks = chunkCount(count, grain: grain)
        if chunks == 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            body(chunk, (count * chunk / chunks)..<(count * (chunk + 1) / chunks))
        }
    }

    /// Number of chunks `forEachChunk` would use; callers size per-chunk partial buffers by it.
    static func chunkCount(_ count: Int, grain: Int) -> Int {
        max(1, min(coreCount, count / max(grain, 1)))
    }
}
