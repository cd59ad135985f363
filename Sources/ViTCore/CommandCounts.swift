/// What a device's queue was asked to do: the costs a GPU pays for besides arithmetic.
/// The OpenCL backend counts its calls into the driver (CLBlast's GEMMs count as one launch
/// each, whatever CLBlast enqueues inside; `Tools/count-cl-calls.sh` counts those too); the
/// CPU backend has no queue and counts nothing.
public struct CommandCounts: Equatable, Sendable {
    /// Kernel launches, including GEMM calls.
    public var launches = 0
    /// Launches of at most 16 work-items (serial work a GPU cannot spread).
    public var smallLaunches = 0
    /// Device-to-device copies.
    public var copies = 0
    /// Host-to-device transfers.
    public var writes = 0
    /// Device-to-host transfers.
    public var reads = 0
    /// Times the host waited for the device (blocking transfers, finishes).
    public var hostWaits = 0
    /// Bytes sent to the device.
    public var bytesWritten = 0
    /// Bytes read back from the device.
    public var bytesRead = 0

    public init() {}

    /// Commands enqueued: launches, copies and transfers.
    public var commands: Int { launches + copies + writes + reads }

    /// The counts from `earlier` to these.
    public func since(_ earlier: CommandCounts) -> CommandCounts {
        var difference = CommandCounts()
        difference.launches = launches - earlier.launches
        difference.smallLaunches = smallLaunches - earlier.smallLaunches
        difference.copies = copies - earlier.copies
        difference.writes = writes - earlier.writes
        difference.reads = reads - earlier.reads
        difference.hostWaits = hostWaits - earlier.hostWaits
        difference.bytesWritten = bytesWritten - earlier.bytesWritten
        difference.bytesRead = bytesRead - earlier.bytesRead
        return difference
    }

    /// One line, each figure divided by `steps`.
    public func perStep(_ steps: Int) -> String {
        let divisor = Double(max(steps, 1))
        func figure(_ value: Int) -> String { String(format: "%.1f", Double(value) / divisor) }
        return "per step: \(figure(commands)) commands (\(figure(launches)) launches, \(figure(smallLaunches)) of at most 16 work-items, "
            + "\(figure(copies)) copies, \(figure(writes)) writes, \(figure(reads)) reads), \(figure(hostWaits)) host waits, "
            + "\(figure(bytesWritten)) bytes written, \(figure(bytesRead)) bytes read"
    }
}
