import Foundation

/// A dense, row-major float32 tensor on one device.
///
/// Tensors are values in the autograd graph: operations create new tensors and never
/// change their inputs. The exceptions are explicit in-place updates such as optimizer
/// steps and gradient accumulation, which happen outside the graph.
public final class Tensor: CustomStringConvertible {
    /// The tensor's dimensions.
    public let shape: Shape
    /// The device memory holding the elements.
    public private(set) var storage: DeviceStorage
    /// The backend that owns `storage` and runs every operation on this tensor.
    public let backend: Backend
    /// Whether gradients flow to this tensor. Set it on parameters (leaves); results of
    /// operations inherit it from their inputs.
    public var requiresGradient: Bool
    /// The accumulated gradient of a leaf after `backward()`; nil until then.
    public var gradient: Tensor? {
        didSet { gradientHoldsZeros = false }
    }
    /// Whether `gradient` is known to hold zeros (see `gradientWasZeroed()`).
    var gradientHoldsZeros = false
    /// How to send a gradient to the inputs of the operation that made this tensor.
    var gradientNode: GradientNode?

    /// Wraps existing storage (which must hold at least `shape.elementCount` floats).
    public init(shape: Shape, storage: DeviceStorage, backend: Backend, requiresGradient: Bool = false) {
        precondition(storage.count >= shape.elementCount, "storage of \(storage.count) floats is too small for \(shape)")
        self.shape = shape
        self.storage = storage
        self.backend = backend
        self.requiresGradient = requiresGradient
    }

    /// Uninitialised tensor of `shape` on `backend`.
    public static func empty(_ shape: Shape, on backend: Backend) throws -> Tensor {
        let valid = try Shape.validated(shape.dimensions, operation: "Tensor.empty")
        return Tensor(shape: valid, storage: try backend.allocate(count: valid.elementCount), backend: backend)
    }

    /// Tensor of `shape` with every element `value`.
    public static func full(_ shape: Shape, value: Float, on backend: Backend) throws -> Tensor {
        let tensor = try empty(shape, on: backend)
        try backend.fill(tensor.storage, count: shape.elementCount, value: value)
        return tensor
    }

    /// Tensor of zeros.
    public static func zeros(_ shape: Shape, on backend: Backend) throws -> Tensor {
        try full(shape, value: 0, on: backend)
    }

    /// Tensor holding `values` (row-major), which must have `shape.elementCount` elements.
    public convenience init(_ values: [Float], shape: Shape, on backend: Backend, requiresGradient: Bool = false) throws {
        let valid = try Shape.validated(shape.dimensions, operation: "Tensor")
        guard values.count == valid.elementCount else {
            throw ViTError.shapeMismatch(
                operation: "Tensor", detail: "\(values.count) values given for shape \(valid) (\(valid.elementCount) elements)")
        }
        let storage = try backend.allocate(count: valid.elementCount)
        try values.withUnsafeBufferPointer { try backend.write($0, to: storage) }
        self.init(shape: valid, storage: storage, backend: backend, requiresGradient: requiresGradient)
    }

    /// The device this tensor lives on.
    public var device: Device { backend.device }

    /// Number of elements.
    public var elementCount: Int { shape.elementCount }

    /// Copies the elements to the host.
    public func toArray() throws -> [Float] {
        var values = [Float](repeating: 0, count: elementCount)
        try values.withUnsafeMutableBufferPointer { try backend.read(storage, into: $0) }
        return values
    }

    /// The single element of a one-element tensor.
    public func item() throws -> Float {
        guard elementCount == 1 else {
            throw ViTError.invalidArgument(operation: "item", detail: "tensor of shape \(shape) has \(elementCount) elements, not 1")
        }
        return try toArray()[0]
    }

    /// A copy on `target` (self when already there). The copy is a new leaf.
    public func to(_ target: Backend) throws -> Tensor {
        if target === backend { return self }
        return try Tensor(toArray(), shape: shape, on: target)
    }

    /// Copies this leaf's values into `destination` (at least as large, on the same backend)
    /// and keeps them there from now on: how parameters move into an arena.
    public func move(to destination: DeviceStorage) throws {
        guard gradientNode == nil, destination.count >= elementCount else {
            throw ViTError.invalidArgument(operation: "move", detail: "only a leaf moves, into storage of at least \(elementCount) floats")
        }
        try backend.copy(from: storage, offset: 0, to: destination, offset: 0, count: elementCount)
        storage = destination
    }

    /// A copy that shares nothing with the autograd graph.
    public func detached() -> Tensor {
        Tensor(shape: shape, storage: storage, backend: backend)
    }

    public var description: String { "Tensor(\(shape), \(device))" }
}
