/// The processes of a data-parallel run (`mpirun -np N vit train`) and the collectives
/// training needs. Every process calls each collective at the same point of training, in
/// the same order; rank 0 writes the outputs.
public protocol ProcessGroup: AnyObject {
    /// This process's index in 0..<size.
    var rank: Int { get }
    /// The number of processes training together.
    var size: Int { get }
    /// Replaces `values` on every process by their element-wise sum over the processes.
    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws
    /// Replaces `values` on every process by their element-wise sum over the processes.
    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Replaces `values` on every process by their element-wise minimum over the processes.
    func minimum(_ values: UnsafeMutableBufferPointer<Double>) throws
    /// Starts replacing `values` by their element-wise sum over the processes and returns
    /// without waiting; `values` must stay untouched until the collective has completed.
    /// Every process starts its collectives in the same order.
    func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective
}

/// A collective that runs while the process goes on (MPI's non-blocking collectives).
public protocol PendingCollective: AnyObject {
    /// Lets the collective progress, without waiting; true once it has completed. MPI moves
    /// a non-blocking collective on only inside MPI calls, so callers ask often.
    func test() throws -> Bool
}

extension ProcessGroup {
    /// Whether this process writes the run's files and log (rank 0).
    public var isWriter: Bool { rank == 0 }

    /// `values` summed over the processes.
    func summed(_ values: [Double]) throws -> [Double] {
        var result = values
        try result.withUnsafeMutableBufferPointer { try sum($0) }
        return result
    }

    /// `values`' element-wise minimum over the processes.
    func minimized(_ values: [Double]) throws -> [Double] {
        var result = values
        try result.withUnsafeMutableBufferPointer { try minimum($0) }
        return result
    }
}

/// A run of one process: every collective leaves its values as they are.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    public func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
    public func minimum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
    public func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective { CompletedCollective() }
}

/// The collective of a single process, complete when it starts.
final class CompletedCollective: PendingCollective {
    func test() throws -> Bool { true }
}
