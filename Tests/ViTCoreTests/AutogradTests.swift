import ViTBackends
import ViTCore
import XCTest

final class AutogradTests: XCTestCase {
    private let backend = TestDevices.cpu

    func testGradientsOfASharedInputAdd() throws {
        let x = try Tensor([1, 2, 3], shape: [3], on: backend, requiresGradient: true)
        // y = sum(x * x + 3 x) has dy/dx = 2x + 3.
        let y = try (x * x + x.scaled(by: 3)).sum()
        try y.backward()
        XCTAssertEqual(try y.item(), 1 + 4 + 9 + 18)
        XCTAssertEqual(try x.gradient?.toArray(), [5, 7, 9])
    }

    func testGradientsAccumulateUntilZeroed() throws {
        let x = try Tensor([1, -2], shape: [2], on: backend, requiresGradient: true)
        try x.scaled(by: 2).sum().backward()
        try x.scaled(by: 3).sum().backward()
        XCTAssertEqual(try x.gradient?.toArray(), [5, 5])
        x.zeroGradient()
        XCTAssertNil(x.gradient)
        try x.sum().backward()
        XCTAssertEqual(try x.gradient?.toArray(), [1, 1])
    }

    func testNoGradientModeRecordsNothing() throws {
        let x = try Tensor([1, 2], shape: [2], on: backend, requiresGradient: true)
        let y = try GradientMode.withoutGradient { try x.scaled(by: 2).sum() }
        XCTAssertFalse(y.requiresGradient)
        XCTAssertTrue(GradientMode.isEnabled)
        assertThrowsViTError("does not require a gradient") { try y.backward() }
    }

    func testBackwardNeedsAScalarOrASeed() throws {
        let x = try Tensor([1, 2], shape: [2], on: backend, requiresGradient: true)
        let y = try x.scaled(by: 2)
        assertThrowsViTError("one-element tensor") { try y.backward() }
        assertThrowsViTError("shape mismatch") { try y.backward(Tensor.zeros([3], on: self.backend)) }
        try y.backward(Tensor([1, 10], shape: [2], on: backend))
        XCTAssertEqual(try x.gradient?.toArray(), [2, 20])
    }

    func testSplitPartsShareOneGradient() throws {
        let x = try Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2], on: backend, requiresGradient: true)
        let parts = try x.split(axis: 0, sizes: [1, 2])
        XCTAssertEqual(try parts[0].toArray(), [1, 2])
        XCTAssertEqual(try parts[1].toArray(), [3, 4, 5, 6])
        // The second part also feeds the first's consumer through x itself.
        try (parts[0].sum().scaled(by: 2) + parts[1].sum().scaled(by: 5) + x.sum()).backward()
        XCTAssertEqual(try x.gradient?.toArray(), [3, 3, 6, 6, 6, 6])
        assertThrowsViTError("do not add up") { _ = try x.split(axis: 0, sizes: [1, 1]) }
        assertThrowsViTError("do not add up") { _ = try x.split(axis: 1, sizes: [0, 2]) }
    }

    func testInputsWithoutGradientGetNone() throws {
        let x = try Tensor([1, 2], shape: [1, 2], on: backend, requiresGradient: true)
        let constant = try Tensor([3, 4], shape: [2, 1], on: backend)
        try matmul(x, constant).sum().backward()
        XCTAssertEqual(try x.gradient?.toArray(), [3, 4])
        XCTAssertNil(constant.gradient)
    }

    func testBackwardRunsOnTheForwardDevice() throws {
        let device = try TestDevices.openCL()
        let x = try Tensor([0.5, -1, 2], shape: [1, 3], on: device, requiresGradient: true)
        try x.gelu().softmax().sum().backward()
        XCTAssertTrue(x.gradient?.backend === device)
        let reference = try Tensor([0.5, -1, 2], shape: [1, 3], on: backend, requiresGradient: true)
        try reference.gelu().softmax().sum().backward()
        for (a, b) in zip(try x.gradient!.toArray(), try reference.gradient!.toArray()) {
            XCTAssertEqual(a, b, accuracy: 1e-6)
        }
    }

    func testMemoryIsCountedAndReleased() throws {
        let device = TestDevices.cpu
        let before = device.memory.live
        do {
            let tensor = try Tensor.zeros([1000], on: device)
            XCTAssertEqual(device.memory.live - before, 4000)
            XCTAssertGreaterThanOrEqual(device.memory.peak, before + 4000)
            _ = tensor
        }
        XCTAssertEqual(device.memory.live, before)
    }
}
