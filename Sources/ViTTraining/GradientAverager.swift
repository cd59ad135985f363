import Foundation
import ViTCore

/// What averaging the gradients over the processes cost, summed over the steps since the
/// last reset.
public struct CommunicationFigures: Sendable, Equatable {
    /// Steps averaged.
    public var steps = 0
    /// Floats each process sends into the sum per step: the gradient arena's length.
    public var floatsPerStep = 0
    /// Buckets per step.
    public var buckets = 0
    /// Seconds from the end of the backward passes until the last bucket was averaged: the
    /// communication the backward pass did not hide.
    public var exposedSeconds = 0.0

    /// Bytes per step each process contributes to the sums.
    public var bytesPerStep: Int { floatsPerStep * MemoryLayout<Float>.size }
    /// Exposed milliseconds per step.
    public var exposedMillisecondsPerStep: Double { steps == 0 ? 0 : 1000 * exposedSeconds / Double(steps) }
}

/// Averages the gradient arena over the processes of a data-parallel run while the backward
/// pass runs, as PyTorch's DistributedDataParallel does: the arena is cut into buckets at
/// tensor boundaries, and once backward has finished every gradient of a bucket, its values
/// start a non-blocking copy into pinned host memory and, when that is there, a
/// non-blocking allreduce. After the backward pass the remaining buckets are waited for,
/// scaled by 1 / N and copied back without waiting. Buckets start their collectives in the
/// order backward finishes them, which depends only on the graph, so it is the same on
/// every process, as MPI requires.
final class GradientAverager {
    private struct Bucket {
        /// Arena indices of its parameters.
        let parameters: Range<Int>
        /// Its gradients on the device: one view over the range.
        let view: DeviceStorage
        /// Where its values start, in the arena and in the staging memory alike.
        let offset: Int
        var unfinished = 0
        var read: DeviceTransfer?
        var collective: PendingCollective?
    }

    private let processes: ProcessGroup
    private let staging: PinnedHostMemory
    private var buckets: [Bucket]
    private let bucketOfTensor: [ObjectIdentifier: Int]
    /// This step's buckets in the order their reads started, which their collectives follow.
    private var started: [Int] = []
    /// How many of `started` have started their collective, and how many completed it.
    private var collectivesStarted = 0
    private var collectivesCompleted = 0
    private(set) var figures = CommunicationFigures()

    /// Buckets of about an eighth of a small arena, so that several overlap its backward
    /// pass, and at most 25 MB (DistributedDataParallel's default cap) for a large one.
    static func bucketCapacity(arenaLength: Int) -> Int {
        min(max(arenaLength / 8, 4096), 25_000_000 / MemoryLayout<Float>.size)
    }

    init(arena: ParameterArena, processes: ProcessGroup) throws {
        let gradients = arena.gradients
        let capacity = Self.bucketCapacity(arenaLength: gradients.storage.count)
        var ranges: [Range<Int>] = []
        var first = 0
        for index in arena.parameters.indices where index + 1 == arena.parameters.count || gradients.length(of: first..<(index + 2)) > capacity {
            ranges.append(first..<(index + 1))
            first = index + 1
        }
        buckets = try ranges.map { Bucket(parameters: $0, view: try gradients.span($0), offset: gradients.offsets[$0.lowerBound]) }
        var bucketOfTensor: [ObjectIdentifier: Int] = [:]
        for (bucket, range) in ranges.enumerated() {
            for index in range { bucketOfTensor[ObjectIdentifier(arena.parameters[index].tensor)] = bucket }
        }
        self.bucketOfTensor = bucketOfTensor
        self.processes = processes
        staging = try arena.backend.allocatePinnedHost(count: gradients.storage.count)
        figures.floatsPerStep = gradients.length(of: arena.parameters.indices)
        figures.buckets = buckets.count
    }

    /// Prepares for a step's backward pass.
    func beginStep() {
        for index in buckets.indices {
            buckets[index].unfinished = buckets[index].parameters.count
            buckets[index].read = nil
            buckets[index].collective = nil
        }
        started = []
        collectivesStarted = 0
        collectivesCompleted = 0
    }

    /// Called by the backward pass with each leaf whose gradient is final.
    func leafFinished(_ tensor: Tensor) throws {
        if let index = bucketOfTensor[ObjectIdentifier(tensor)] {
            buckets[index].unfinished -= 1
            if buckets[index].unfinished == 0 { try startRead(index) }
        }
        try advance(waiting: false)
    }

    /// After the backward pass: starts the buckets it did not finish (parameters it did not
    /// reach), waits for every sum, and enqueues the averaged gradients' copies to the device.
    func finish() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        for index in buckets.indices where buckets[index].read == nil { try startRead(index) }
        try advance(waiting: true)
        let scale = 1 / Float(processes.size)
        for index in started {
            let bucket = buckets[index]
            let values = values(of: bucket)
            for position in values.indices { values[position] *= scale }
            try staging.startWrite(to: bucket.view, from: bucket.offset)
        }
        figures.steps += 1
        figures.exposedSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Starts the figures from zero (the bucket layout stays).
    func resetFigures() {
        figures = CommunicationFigures(floatsPerStep: figures.floatsPerStep, buckets: figures.buckets)
    }

    private func startRead(_ index: Int) throws {
        buckets[index].read = try staging.startRead(buckets[index].view, at: buckets[index].offset)
        started.append(index)
    }

    /// Starts, in order, the collectives of buckets whose values have reached the host, and
    /// lets MPI progress those in flight; `waiting` returns only when every one has completed.
    /// While waiting it polls rather than blocks: a device still running the backward pass
    /// delivers the next bucket while MPI moves the earlier ones on.
    private func advance(waiting: Bool) throws {
        repeat {
            let progress = (collectivesStarted, collectivesCompleted)
            while collectivesStarted < started.count, let read = buckets[started[collectivesStarted]].read, try read.isComplete() {
                let bucket = buckets[started[collectivesStarted]]
                buckets[started[collectivesStarted]].collective = try processes.startSum(values(of: bucket))
                collectivesStarted += 1
            }
            while collectivesCompleted < collectivesStarted, let collective = buckets[started[collectivesCompleted]].collective,
                try collective.test()
            {
                collectivesCompleted += 1
            }
            if waiting && progress == (collectivesStarted, collectivesCompleted) { sched_yield() }
        } while waiting && collectivesCompleted < started.count
    }

    /// A bucket's values in the staging memory.
    private func values(of bucket: Bucket) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: staging.values[bucket.offset..<(bucket.offset + bucket.view.count)])
    }
}
