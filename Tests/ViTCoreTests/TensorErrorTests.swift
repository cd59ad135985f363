import ViTBackends
import ViTCPU
import ViTCore
import XCTest

/// Bad input to the public API is a typed error with a message, never a trap.
final class TensorErrorTests: XCTestCase {
    private let backend = TestDevices.cpu

    /// A kernel family a backend does not implement is an error naming the family and the
    /// device, not a crash (and the backend still compiles without it).
    func testFamilyWithoutImplementationIsUnsupported() throws {
        assertThrowsViTError("UnimplementedKernels are unsupported on cpu") {
            _ = try TestDevices.cpu.kernels(UnimplementedKernels.self)
        }
        XCTAssertNoThrow(try TestDevices.cpu.kernels(LayerNormKernels.self))
    }

    func testMismatchedShapes() throws {
        let a = try Tensor.zeros([2, 3], on: backend)
        let b = try Tensor.zeros([3, 2], on: backend)
        assertThrowsViTError("shape mismatch") { _ = try a + b }
        assertThrowsViTError("inner sizes differ") { _ = try matmul(a, a) }
        assertThrowsViTError("bias") { _ = try a.addingBias(Tensor.zeros([2], on: self.backend)) }
        assertThrowsViTError("weight") { _ = try a.layerNorm(weight: Tensor.zeros([2], on: self.backend), bias: Tensor.zeros([3], on: self.backend)) }
        assertThrowsViTError("batch axes differ") {
            _ = try matmul(Tensor.zeros([2, 2, 3], on: self.backend), Tensor.zeros([3, 3, 2], on: self.backend))
        }
        assertThrowsViTError("cannot view") { _ = try a.reshaped([4, 2]) }
        assertThrowsViTError("is not a permutation") { _ = try a.permuted([0, 0]) }
        assertThrowsViTError("3 values given") { _ = try Tensor([1, 2, 3], shape: [2, 2], on: self.backend) }
        assertThrowsViTError("negative") { _ = try Tensor.zeros([2, -1], on: self.backend) }
    }

    func testBadArguments() throws {
        let logits = try Tensor.zeros([2, 3], on: backend)
        assertThrowsViTError("not a class index") { _ = try crossEntropy(logits: logits, labels: Tensor([0, 3], shape: [2], on: self.backend)) }
        assertThrowsViTError("labels [batch]") { _ = try crossEntropy(logits: logits, labels: Tensor([0], shape: [1], on: self.backend)) }
        assertThrowsViTError("probability") { _ = try logits.dropout(probability: 1, seed: 0, offset: 0) }
        assertThrowsViTError("axis 2 out of range") { _ = try logits.sum(axis: 2) }
        assertThrowsViTError("has 6 elements, not 1") { _ = try logits.item() }
    }

    func testTensorsOnTwoDevices() throws {
        // Another device: the OpenCL one when present, else a second CPU backend instance,
        // which is just as separate a memory space to the tensor operations.
        let other: Backend = DeviceRegistry.shared.openCLDevices.isEmpty ? CPUBackend() : try TestDevices.openCL()
        let a = try Tensor.zeros([2, 2], on: backend)
        let b = try Tensor.zeros([2, 2], on: other)
        assertThrowsViTError("different devices") { _ = try a + b }
        assertThrowsViTError("different devices") { _ = try matmul(a, b) }
        assertThrowsViTError("different devices") {
            _ = try a.layerNorm(weight: Tensor.zeros([2], on: other), bias: Tensor.zeros([2], on: self.backend))
        }
        // Moving one of them makes the operation valid.
        XCTAssertEqual(try (a + b.to(backend)).toArray(), [0, 0, 0, 0])
    }

    func testUnknownDevices() {
        let registry = DeviceRegistry.shared
        assertThrowsViTError("expected cpu, opencl, opencl:N") { _ = try registry.device(for: "gpu2") }
        assertThrowsViTError("there is no OpenCL device 7") { _ = try registry.device(for: "opencl:7") }
        assertThrowsViTError("expected cpu") { _ = try registry.device(for: "opencl:x") }
        XCTAssertEqual(try registry.device(for: "cpu"), .cpu)
        XCTAssertEqual(try registry.device(for: " CPU "), .cpu)
    }

    func testDefaultDeviceRule() throws {
        let registry = DeviceRegistry.shared
        let accelerator = registry.openCLDevices.first { $0.info.kind == .gpu || $0.info.kind == .accelerator }
        XCTAssertEqual(registry.defaultDevice, accelerator?.info.device ?? .cpu)
        XCTAssertEqual(try registry.device(for: "auto"), registry.defaultDevice)
        if let first = registry.openCLDevices.first {
            XCTAssertEqual(try registry.device(for: "opencl:0"), first.info.device)
        }
    }
}

/// A kernel family no backend implements.
private protocol UnimplementedKernels {
    func unimplemented() throws
}
