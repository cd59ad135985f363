import Foundation

/// The batches of one epoch, in order, as a single-pass sequence. With a positive
/// `prefetchCount` a background thread prepares up to that many batches ahead while the
/// caller works; the batches are identical either way.
///
/// The thread ends when the epoch is exhausted, when `cancel()` is called, or when this
/// object is released, for example after `break` out of a `for` loop; `cancel()` and
/// release wait for it, so no thread outlives its epoch.
public final class EpochBatches: Sequence, IteratorProtocol {
    /// The epoch number (selects the shuffle and augmentation streams).
    public let epoch: Int
    /// Batches this epoch yields in total.
    public let batchCount: Int

    private let loader: BatchLoader
    private let queue: PrefetchQueue<Batch>?
    private var order: [Int] = []
    private var nextIndex = 0
    private var stopped = false

    init(loader: BatchLoader, epoch: Int) {
        self.loader = loader
        self.epoch = epoch
        self.batchCount = loader.batchesPerEpoch
        if loader.prefetchCount > 0 && batchCount > 0 {
            let queue = PrefetchQueue<Batch>(capacity: loader.prefetchCount)
            self.queue = queue
            ProducerThreads.started()
            let thread = Thread {
                Self.produce(loader: loader, epoch: epoch, queue: queue)
            }
            thread.name = "ViTData.BatchLoader"
            thread.start()
        } else {
            queue = nil
            order = loader.order(epoch: epoch)
        }
    }

    deinit {
        cancel()
    }

    /// The next batch, waiting for the background thread when it is behind; nil at the
    /// end of the epoch or after `cancel()`.
    public func next() -> Batch? {
        guard !stopped else { return nil }
        if let queue {
            guard let batch = queue.pop() else {
                stopped = true
                return nil
            }
            nextIndex += 1
            return batch
        }
        guard nextIndex < batchCount else {
            stopped = true
            return nil
        }
        let batch = loader.makeBatch(nextIndex, epoch: epoch, order: order)
        nextIndex += 1
        return batch
    }

    /// Batches not yet returned by `next()`.
    public var underestimatedCount: Int { stopped ? 0 : batchCount - nextIndex }

    /// Stops the epoch early: the background thread finishes the batch it is on, exits,
    /// and this call returns once it has; `next()` returns nil from now on.
    public func cancel() {
        stopped = true
        guard let queue else { return }
        queue.cancel()
        queue.waitUntilProducerExits()
    }

    /// The background thread's body: builds the batches in order and hands them over.
    private static func produce(loader: BatchLoader, epoch: Int, queue: PrefetchQueue<Batch>) {
        defer {
            ProducerThreads.exited()
            queue.markProducerExited()
        }
        let order = loader.order(epoch: epoch)
        for index in 0..<loader.batchesPerEpoch {
            if queue.isCancelled { return }
            let batch = loader.makeBatch(index, epoch: epoch, order: order)
            if !queue.push(batch) { return }
        }
        queue.finish()
    }
}

/// Counts the batch producer threads alive, so tests can check none is left behind.
enum ProducerThreads {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var count = 0

    /// Producer threads started and not yet exited.
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
