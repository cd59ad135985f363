import Foundation

/// A bounded first-in first-out hand-over between one producer thread and one consumer,
/// with cancellation. The producer blocks while the queue is full, the consumer while it
/// is empty; `cancel` wakes both and `waitUntilProducerExits` joins the producer.
final class PrefetchQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private var elements: [Element] = []
    private var head = 0
    private let capacity: Int
    private var producerFinished = false
    private var producerExited = false
    private var cancelled = false

    /// A queue holding at most `capacity` (at least 1) elements.
    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Whether `cancel` has been called.
    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// Producer: waits for room and appends `element`; returns false (dropping it) when cancelled.
    func push(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while elements.count - head >= capacity && !cancelled {
            condition.wait()
        }
        guard !cancelled else { return false }
        elements.append(element)
        condition.broadcast()
        return true
    }

    /// Producer: no more elements will come.
    func finish() {
        condition.lock()
        producerFinished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Producer: the thread is about to return; must be its last call.
    func markProducerExited() {
        condition.lock()
        producerExited = true
        producerFinished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Consumer: the next element, waiting for it; nil once the producer finished and the
    /// queue is drained, or after `cancel`.
    func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while head == elements.count && !producerFinished && !cancelled {
            condition.wait()
        }
        guard !cancelled, head < elements.count else { return nil }
        let element = elements[head]
        head += 1
        if head > 16 && head * 2 > elements.count {
            elements.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return element
    }

    /// Stops the hand-over: drops queued elements and wakes a blocked producer or consumer.
    func cancel() {
        condition.lock()
        cancelled = true
        elements.removeAll()
        head = 0
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks until the producer has called `markProducerExited`.
    func waitUntilProducerExits() {
        condition.lock()
        while !producerExited {
            condition.wait()
        }
        condition.unlock()
    }
}
