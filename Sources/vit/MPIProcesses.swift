import CMPI
import Foundation
import ViTTraining

/// A failed MPI call, with MPI's description of its error code, or a buffer too long for one.
enum MPIError: Error, CustomStringConvertible {
    case failed(call: String, code: Int32)
    case tooManyElements(Int)

    var description: String {
        switch self {
        case .failed(let call, let code):
            var text = [CChar](repeating: 0, count: Int(vit_mpi_error_text_capacity()))
            vit_mpi_error_text(code, &text, Int32(text.count))
            return "\(call) failed with MPI error \(code): \(String(cString: text))"
        case .tooManyElements(let count):
            return "an allreduce of \(count) elements is more than MPI's 32-bit count allows"
        }
    }
}

/// The processes of MPI_COMM_WORLD: those mpirun or `srun --mpi=pmix` started, or this
/// process alone (an MPI singleton of size 1) when it was started directly.
final class MPIProcesses: ProcessGroup {
    let rank: Int
    let size: Int
    /// This process's index among the processes on its machine, and their number.
    let localRank: Int
    let localSize: Int

    /// Starts MPI and reads this process's place in the job.
    init() throws {
        try Self.check(vit_mpi_initialize(), "MPI_Init_thread")
        var (rank, size, localRank, localSize) = (Int32(0), Int32(0), Int32(0), Int32(0))
        try Self.check(vit_mpi_world(&rank, &size), "MPI_Comm_rank/MPI_Comm_size of MPI_COMM_WORLD")
        try Self.check(vit_mpi_node(&localRank, &localSize), "MPI_Comm_split_type (the processes on this machine)")
        (self.rank, self.size, self.localRank, self.localSize) = (Int(rank), Int(size), Int(localRank), Int(localSize))
    }

    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        try Self.check(vit_mpi_sum_floats(values.baseAddress, try Self.count(values.count)), "MPI_Allreduce (sum) of \(values.count) floats")
    }

    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try Self.check(vit_mpi_sum_doubles(values.baseAddress, try Self.count(values.count)), "MPI_Allreduce (sum) of \(values.count) doubles")
    }

    func minimum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        try Self.check(
            vit_mpi_minimum_doubles(values.baseAddress, try Self.count(values.count)), "MPI_Allreduce (minimum) of \(values.count) doubles")
    }

    func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective {
        let collective = MPIRequest(operation: "MPI_Iallreduce (sum) of \(values.count) floats")
        try Self.check(vit_mpi_start_sum_floats(values.baseAddress, try Self.count(values.count), &collective.request), collective.operation)
        return collective
    }

    /// Prints `message` as this rank's and ends every process of the job with status 1.
    func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("rank \(rank) of \(size): \(message)\n".utf8))
        _ = vit_mpi_abort(1)
        exit(1)
    }

    /// Ends MPI; no collective may follow.
    func finalize() throws {
        try Self.check(vit_mpi_finalize(), "MPI_Finalize")
    }

    private static func count(_ count: Int) throws -> Int32 {
        guard let narrow = Int32(exactly: count) else { throw MPIError.tooManyElements(count) }
        return narrow
    }

    fileprivate static func check(_ code: Int32, _ call: String) throws {
        guard code == 0 else { throw MPIError.failed(call: call, code: code) }
    }
}

/// A non-blocking MPI collective in flight, known by its request.
private final class MPIRequest: PendingCollective {
    var request: MPI_Request? = vit_mpi_null_request()
    let operation: String

    init(operation: String) {
        self.operation = operation
    }

    func test() throws -> Bool {
        var done: Int32 = 0
        try MPIProcesses.check(vit_mpi_test(&request, &done), "MPI_Test of \(operation)")
        return done != 0
    }
}
