import Foundation
import ViTCore

/// One benchmark: a kernel at one size, with the work it does.
public struct BenchmarkRow {
    public let name: String
    public let size: String
    /// Floating-point operations per call (GEMM) or 0.
    public let flops: Double
    /// Bytes read and written per call (memory-bound kernels) or 0.
    public let bytes: Double
    /// Prepares inputs on a backend and returns the call to time.
    public let prepare: (Backend) throws -> () throws -> Void

    public init(name: String, size: String, flops: Double, bytes: Double, prepare: @escaping (Backend) throws -> () throws -> Void) {
        (self.name, self.size, self.flops, self.bytes, self.prepare) = (name, size, flops, bytes, prepare)
    }

    /// Seconds per call on `backend`: two calls to warm up, then calls until `minimumSeconds`
    /// have passed, synchronising every 4 calls.
    public func time(on backend: Backend, minimumSeconds: Double) throws -> Double {
        let call = try prepare(backend)
        for _ in 0..<2 { try call() }
        try backend.synchronize()
        var calls = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            try call()
            calls += 1
            if calls % 4 == 0 || calls < 4 {
                try backend.synchronize()
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            }
        } while elapsed < minimumSeconds
        try backend.synchronize()
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return elapsed / Double(calls)
    }

    /// The row as `vit-bench kernels` prints it.
    public func format(seconds: Double, device: String) -> String {
        let rate = flops > 0 ? String(format: "%8.1f GFLOP/s", flops / seconds * 1e-9) : String(format: "%8.1f GB/s", bytes / seconds * 1e-9)
        return name.padding(toLength: 18, withPad: " ", startingAt: 0) + " " + size.padding(toLength: 29, withPad: " ", startingAt: 0)
            + " " + device.padding(toLength: 9, withPad: " ", startingAt: 0) + String(format: " %10.3f  ", seconds * 1e3) + rate
    }
}
