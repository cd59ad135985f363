import Dispatch
import Foundation

/// Splits loops over the machine's cores. Work below `grain` items per chunk runs on the
/// calling thread, since dispatching costs more than small loops.
enum Parallel {
    static let coreCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body` with disjoint ranges covering 0..<count, concurrently.
    @inline(__always)
    static func forEachChunk(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let chunks = min(coreCount, count / max(grain, 1))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            body((count * chunk / chunks)..<(count * (chunk + 1) / chunks))
        }
    }

    /// Number of chunks `forEachChunk` would use; callers size per-chunk partial buffers by it.
    static func chunkCount(_ count: Int, grain: Int) -> Int {
        max(1, min(coreCount, count / max(grain, 1)))
    }
}
