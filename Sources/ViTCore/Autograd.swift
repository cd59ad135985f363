import Foundation

/// The backward rule of one operation: given the gradient of its output, the gradients of
/// its inputs (nil for an input that needs none). Rules are written with backend
/// operations, so the backward pass runs on the device of the forward pass.
final class GradientNode {
    let inputs: [Tensor]
    let rule: Rule

    enum Rule {
        /// The rule of a one-output operation.
        case single((Tensor) throws -> [Tensor?])
        /// This tensor is output `index` of a multi-output operation, whose rule runs once.
        case output(MultiOutputGradient, index: Int)
    }

    init(inputs: [Tensor], rule: Rule) {
        self.inputs = inputs
        self.rule = rule
    }
}

/// The backward rule of an operation with several outputs (a split). Back-propagation
/// collects the gradients of the outputs, then runs the rule once, before it reaches any
/// input: every output depends on the inputs, so all of them come first in reverse
/// topological order. An output that received no gradient is passed as nil.
final class MultiOutputGradient {
    let inputs: [Tensor]
    let backward: ([Tensor?]) throws -> [Tensor?]
    var outputGradients: [Tensor?]
    var hasRun = false

    init(inputs: [Tensor], outputCount: Int, backward: @escaping ([Tensor?]) throws -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
        outputGradients = Array(repeating: nil, count: outputCount)
    }
}

/// Switches gradient recording on and off. Evaluation runs inside `withoutGradient` so
/// that no graph is kept. The mode is process-wide: models are driven from one thread.
public enum GradientMode {
    nonisolated(unsafe) private static var enabled = true

    /// Whether operations record backward rules now.
    public static var isEnabled: Bool { enabled }

    /// Runs `body` with recording off, restoring the previous mode afterwards.
    public static func withoutGradient<T>(_ body: () throws -> T) rethrows -> T {
        let previous = enabled
        enabled = false
        defer { enabled = previous }
        return try body()
    }
}

extension Tensor {
    /// Attaches a backward rule to `self`, the output of an operation on `inputs`, when
    /// recording is on and some input needs a gradient. Returns `self`.
    @discardableResult
    func recording(_ inputs: [Tensor], _ backward: @escaping (Tensor) throws -> [Tensor?]) -> Tensor {
        guard GradientMode.isEnabled, inputs.contains(where: { $0.requiresGradient }) else { return self }
        requiresGradient = true
        gradientNode = GradientNode(inputs: inputs, rule: .single(backward))
        return self
    }

    /// Attaches one backward rule to `outputs`, the results of a single operation on
    /// `inputs`; the rule receives every output's gradient at once (nil where none).
    static func recording(_ outputs: [Tensor], inputs: [Tensor], _ backward: @escaping ([Tensor?]) throws -> [Tensor?]) {
        guard GradientMode.isEnabled, inputs.contains(where: { $0.requiresGradient }) else { return }
        let operation = MultiOutputGradient(inputs: inputs, outputCount: outputs.count, backward: backward)
        for (index, output) in outputs.enumerated() {
            output.requiresGradient = true
            output.gradientNode = GradientNode(inputs: inputs, rule: .output(operation, index: index))
        }
    }

    /// Back-propagates from this tensor. Without an argument the tensor must hold one
    /// element (a loss) and its gradient is 1. Leaves that require a gradient accumulate
    /// it in `gradient` (call `zeroGradient()` between steps, as in PyTorch). The graph
    /// below this tensor is released afterwards. `leafFinished`, when given, is called with
    /// each leaf as soon as its gradient is final (every rule that contributes to it has run
    /// and its accumulation is enqueued), in an order that depends only on the graph, so
    /// data-parallel training can start averaging it while the rest of the pass runs.
    public func backward(_ seed: Tensor? = nil, leafFinished: ((Tensor) throws -> Void)? = nil) throws {
        guard requiresGradient else {
            throw ViTError.gradient(detail: "backward() on a tensor that does not require a gradient")
        }
        let start: Tensor
        if let seed {
            guard seed.shape == shape else {
                throw ViTError.shapeMismatch(operation: "backward", detail: "gradient \(seed.shape) for tensor \(shape)")
            }
            guard seed.backend === backend else {
                throw ViTError.deviceMismatch(operation: "backward", first: "\(device)", second: "\(seed.device)")
            }
            start = seed
        } else {
            guard elementCount == 1 else {
                throw ViTError.gradient(detail: "backward() without a gradient needs a one-element tensor, not \(shape)")
            }
            // Written from the host: a transfer, not a one-work-item launch.
            start = try Tensor([1], shape: shape, on: backend)
        }
        try GradientMode.withoutGradient {
            let order = topologicalOrder()
            var gradients: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): start]
            // Multi-output operations waiting to run, under each of their inputs.
            var waiting: [ObjectIdentifier: [MultiOutputGradient]] = [:]
            func accumulate(_ inputs: [Tensor], _ inputGradients: [Tensor?]) throws {
                for (input, inputGradient) in zip(inputs, inputGradients) {
                    guard let inputGradient, input.requiresGradient else { continue }
                    let key = ObjectIdentifier(input)
                    if let existing = gradients[key] {
                        gradients[key] = try existing + inputGradient
                    } else {
                        gradients[key] = inputGradient
                    }
                }
            }
            for tensor in order.reversed() {
                for operation in waiting.removeValue(forKey: ObjectIdentifier(tensor)) ?? [] where !operation.hasRun {
                    operation.hasRun = true
                    try accumulate(operation.inputs, try operation.backward(operation.outputGradients))
                    operation.outputGradients = []
                }
                // Reverse topological order visits a leaf after every tensor made from it.
                guard let gradient = gradients.removeValue(forKey: ObjectIdentifier(tensor)) else {
                    // A rule may have written this leaf's whole gradient in place (`leafGradient`).
                    if tensor.gradientNode == nil { try leafFinished?(tensor) }
                    continue
                }
                guard let node = tensor.gradientNode else {
                    try tensor.accumulateGradient(gradient)
                    try leafFinished?(tensor)
                    continue
                }
                switch node.rule {
                case .single(let backward):
                    try accumulate(node.inputs, try backward(gradient))
                case .output(let operation, let index):
                    operation.outputGradients[index] = gradient
                    for input in operation.inputs where input.requiresGradient {
                        waiting[ObjectIdentifier(input), default: []].append(operation)
                    }
                }
                tensor.gradientNode = nil
            }
        }
    }

    /// Sets the accumulated gradient of this leaf to nil.
    public func zeroGradient() {
        gradient = nil
    }

    /// Tells this leaf that its `gradient` holds zeros (an optimizer zeroed its gradients in
    /// one launch), so the next accumulation copies into it instead of adding.
    public func gradientWasZeroed() {
        gradientHoldsZeros = true
    }

    /// A backward rule that writes a leaf input's whole gradient with one overwriting kernel
    /// computes it through this: `compute` gets the leaf's zeroed arena gradient to write
    /// into, when it has one (then nil is returned: nothing is left to accumulate, and no
    /// copy is made), or nil, and then returns a new tensor, which is returned.
    static func leafGradient(for input: Tensor, _ compute: (Tensor?) throws -> Tensor) rethrows -> Tensor? {
        guard input.requiresGradient else { return nil }
        let destination = input.takeZeroedGradient()
        let result = try compute(destination)
        return destination == nil ? result : nil
    }

    /// This leaf's gradient when it is known to hold zeros, for a rule to overwrite (it is
    /// then no longer known to); nil otherwise.
    func takeZeroedGradient() -> Tensor? {
        guard requiresGradient, gradientNode == nil, gradientHoldsZeros, let gradient else { return nil }
        gradientHoldsZeros = false
        return gradient
    }

    private func accumulateGradient(_ incoming: Tensor) throws {
        if let gradient, gradientHoldsZeros {
            gradientHoldsZeros = false
            try backend.copy(from: incoming.storage, offset: 0, to: gradient.storage, offset: 0, count: elementCount)
            return
        }
        guard let gradient else {
            // Copy: the incoming tensor may share storage with an activation of this step.
            let copy = try Tensor.empty(shape, on: backend)
            try backend.copy(from: incoming.storage, offset: 0, to: copy.storage, offset: 0, count: elementCount)
            self.gradient = copy
            return
        }
        try backend.pointwise(.add(incoming.storage), gradient.storage, output: gradient.storage, count: elementCount)
    }

    /// Every tensor this one depends on, inputs before the tensors made from them.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative depth-first search: a deep model would overflow the stack recursively.
        var stack: [(tensor: Tensor, expanded: Bool)] = [(self, false)]
        while let (tensor, expanded) = stack.popLast() {
            if expanded {
                order.append(tensor)
                continue
            }
            guard visited.insert(ObjectIdentifier(tensor)).inserted else { continue }
            stack.append((tensor, true))
            for input in tensor.gradientNode?.inputs ?? [] where input.requiresGradient && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        return order
    }
}
