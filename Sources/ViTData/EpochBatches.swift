import Foundation

/// The batches of one epoch, in order, read with `nextBatch()`. With a positive
/// `prefetchCount` the loader's worker threads prepare batches ahead (each thread a whole
/// batch at a time) while the caller works; the batches are identical either way.
///
/// The threads end when the epoch is exhausted, when `cancel()` is called, when a batch
/// fails (the error reaches the caller in order), or when this object is released;
/// `cancel()` and release wait for them, so no thread outlives its epoch.
public final class EpochBatches {
    /// The epoch number (selects the shuffle and augmentation streams).
    public let epoch: Int
    /// Batches this epoch yields in total.
    public let batchCount: Int
    /// Seconds `nextBatch()` waited for the first batch, and for all the others together:
    /// with enough workers the second stays near zero (the step never waits for data).
    public private(set) var firstBatchWaitSeconds = 0.0
    public private(set) var laterBatchesWaitSeconds = 0.0
    /// The images left out so far this epoch (`--skip-bad-images`).
    public private(set) var skipped: [SkippedImage] = []

    private let loader: BatchLoader
    private let queue: BatchQueue?
    private var order: [Int] = []
    private var writer: SampleWriter?
    private var nextIndex = 0
    private var stopped = false

    init(loader: BatchLoader, epoch: Int) {
        self.loader = loader
        self.epoch = epoch
        self.batchCount = loader.batchesPerEpoch
        guard loader.prefetchCount > 0 && batchCount > 0 else {
            queue = nil
            order = loader.order(epoch: epoch)
            return
        }
        let workers = min(loader.workers, batchCount)
        let queue = BatchQueue(total: batchCount, capacity: max(loader.prefetchCount, workers), workers: workers)
        self.queue = queue
        let order = loader.order(epoch: epoch)
        for worker in 0..<workers {
            ProducerThreads.started()
            let thread = Thread { Self.work(loader: loader, epoch: epoch, order: order, queue: queue) }
            thread.name = "ViTData.BatchLoader.\(worker)"
            thread.start()
        }
    }

    deinit {
        cancel()
    }

    /// The next batch, waiting for the workers when they are behind; nil at the end of the
    /// epoch or after `cancel()`. Throws the error that stopped a batch (an unreadable or
    /// corrupt image, for one), after which the epoch is over.
    public func nextBatch() throws -> Batch? {
        guard !stopped, nextIndex < batchCount else {
            stopped = true
            return nil
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let batch: Batch
        do {
            if let queue {
                guard let result = queue.take() else {
                    stopped = true
                    return nil
                }
                batch = try result.get()
            } else {
                if writer == nil { writer = try loader.source.makeWriter() }
                batch = try loader.makeBatch(nextIndex, epoch: epoch, order: order, writer: writer)
            }
        } catch {
            cancel()
            throw error
        }
        let waited = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if nextIndex == 0 { firstBatchWaitSeconds = waited } else { laterBatchesWaitSeconds += waited }
        skipped += batch.skipped
        nextIndex += 1
        return batch
    }

    /// Every remaining batch, in order.
    public func collect() throws -> [Batch] {
        var batches: [Batch] = []
        while let batch = try nextBatch() { batches.append(batch) }
        return batches
    }

    /// Batches not yet returned by `nextBatch()`.
    public var remaining: Int { stopped ? 0 : batchCount - nextIndex }

    /// Stops the epoch early: the workers finish the batches they are on, exit, and this
    /// call returns once they have; `nextBatch()` returns nil from now on.
    public func cancel() {
        stopped = true
        guard let queue else { return }
        queue.cancel()
        queue.waitUntilWorkersExit()
    }

    /// A worker thread's body: claims batches in order, builds and delivers them.
    private static func work(loader: BatchLoader, epoch: Int, order: [Int], queue: BatchQueue) {
        defer {
            ProducerThreads.exited()
            queue.workerExited()
        }
        let writer: SampleWriter
        do {
            writer = try loader.source.makeWriter()
        } catch {
            if let index = queue.claim() { queue.deliver(index, .failure(error)) }
            return
        }
        while let index = queue.claim() {
            queue.deliver(index, Result { try loader.makeBatch(index, epoch: epoch, order: order, writer: writer) })
        }
    }
}

/// Counts the batch worker threads alive, so tests can check none is left behind.
enum ProducerThreads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var count = 0

    /// Worker threads started and not yet exited.
    static var running: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    static func started() {
        lock.lock()
        count += 1
        lock.unlock()
    }

    static func exited() {
        lock.lock()
        count -= 1
        lock.unlock()
    }
}
