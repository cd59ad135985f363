import Foundation

/// The hand-over between an epoch's worker threads and its consumer: workers claim batch
/// indices in order and deliver each batch (or the error that stopped it) whenever it is
/// done; the consumer takes them in index order. A worker waits before claiming while
/// `capacity` batches are claimed but not yet taken, so memory holds at most that many
/// whatever the data set's size. `cancel` wakes everyone and drops what is held.
final class BatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var delivered: [Int: Result<Batch, Error>] = [:]
    private var nextClaim = 0
    private var nextTake = 0
    private let capacity: Int
    private let total: Int
    private var runningWorkers: Int
    private var cancelled = false

    /// A queue of `total` batches for `workers` threads, at most `capacity` (at least 1) claimed ahead.
    init(total: Int, capacity: Int, workers: Int) {
        self.total = total
        self.capacity = max(1, capacity)
        runningWorkers = workers
    }

    /// Worker: the next batch index to build, once there is room; nil when every batch is
    /// claimed or the queue is cancelled.
    func claim() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while nextClaim < total && nextClaim >= nextTake + capacity && !cancelled {
            condition.wait()
        }
        guard !cancelled, nextClaim < total else { return nil }
        nextClaim += 1
        return nextClaim - 1
    }

    /// Worker: batch `index` is built (or failed).
    func deliver(_ index: Int, _ result: Result<Batch, Error>) {
        condition.lock()
        if !cancelled { delivered[index] = result }
        condition.broadcast()
        condition.unlock()
    }

    /// Worker: the thread is about to return; must be its last call.
    func workerExited() {
        condition.lock()
        runningWorkers -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next batch in order, waiting for it; nil after the last or after `cancel`.
    func take() -> Result<Batch, Error>? {
        condition.lock()
        defer { condition.unlock() }
        while nextTake < total && delivered[nextTake] == nil && !cancelled && runningWorkers > 0 {
            condition.wait()
        }
        guard !cancelled, let result = delivered.removeValue(forKey: nextTake) else { return nil }
        nextTake += 1
        condition.broadcast()
        return result
    }

    /// Stops the hand-over: drops delivered batches and wakes blocked workers and the consumer.
    func cancel() {
        condition.lock()
        cancelled = true
        delivered.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until every worker has called `workerExited`.
    func waitUntilWorkersExit() {
        condition.lock()
        while runningWorkers > 0 {
            condition.wait()
        }
        condition.unlock()
    }
}
