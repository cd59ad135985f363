import Dispatch
import Foundation

/// Splits loops over the machine's cores. Work below `grain` items per chunk runs on the
/// calling thread, since dispatching costs more than small loops.
enum Parallel {
    /// The cores this process may run on: its CPU affinity (as `taskset`, a container's
    /// cpuset or mpirun's binding sets it, read from /proc/self/status), which the machine's
    /// processor count ignores; elsewhere, the processor count. `VIT_CPU_THREADS` lowers it
    /// (data-parallel ranks on one machine share its cores).
    static let coreCount: Int = {
        let fallback = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let limit = ProcessInfo.processInfo.environment[CPUBackend.threadLimitVariable].flatMap { Int($0) }.map { max(1, $0) } ?? fallback
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
        else { return min(fallback, limit) }
        // A hexadecimal mask in comma-separated groups: one bit per allowed core.
        let mask = line.dropFirst("Cpus_allowed:".count).filter(\.isHexDigit)
        let allowed = mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
        return min(allowed > 0 ? min(allowed, fallback) : fallback, limit)
    }()

    /// Calls `body` with disjoint ranges covering 0..<count, concurrently. One chunk per
    /// core by default; long, uneven tasks (attention heads) ask for `chunksPerCore` > 1, so
    /// that a core slowed by another process hands its remaining chunks to the others.
    @inline(__always)
    static func forEachChunk(_ count: Int, grain: Int, chunksPerCore: Int = 1, _ body: (Range<Int>) -> Void) {
        forEachIndexedChunk(count, grain: grain, chunksPerCore: chunksPerCore) { _, range in body(range) }
    }

    /// As `forEachChunk`, also passing each chunk's index in 0..<chunkCount(count, grain:),
    /// so that chunks can write per-chunk partial results without sharing a slot.
    @inline(__always)
    static func forEachIndexedChunk(_ count: Int, grain: Int, chunksPerCore: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        let chunks = chunkCount(count, grain: grain, chunksPerCore: chunksPerCore)
        if chunks == 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            body(chunk, (count * chunk / chunks)..<(count * (chunk + 1) / chunks))
        }
    }

    /// Number of chunks `forEachChunk` would use; callers size per-chunk partial buffers by it.
    static func chunkCount(_ count: Int, grain: Int, chunksPerCore: Int = 1) -> Int {
        coreCount == 1 ? 1 : max(1, min(coreCount * chunksPerCore, count / max(grain, 1)))
    }
}
