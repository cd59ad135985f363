import ViTBackends
import ViTCore
import ViTNN
import XCTest

@testable import ViTTraining

/// The bucketed gradient averaging of data-parallel training, against a stand-in for two
/// processes whose other process holds the same gradients: the sums double every value, so
/// the average must give back each gradient exactly, every float of the arena must be summed
/// once, and buckets must start while the backward pass still runs.
final class GradientAveragerTests: XCTestCase {
    func testBucketsCoverTheArenaOnceStartDuringBackwardAndAverageExactly() throws {
        for backend in try SmallModelFixture.backends() {
            let model = try VisionTransformer(configuration: SmallModelFixture.configuration, on: backend, seed: 5)
            let optimizer = try Muon(parameters: model.optimizedParameters)
            let (images, labels) = try SmallModelFixture.batch(on: backend)
            func backward(_ leafFinished: ((Tensor) throws -> Void)?) throws {
                try optimizer.zeroGradients()
                let logits = try model(images, context: ForwardContext(training: true, seed: 3, step: 0))
                try crossEntropy(logits: logits, labels: labels, labelSmoothing: 0.1).backward(leafFinished: leafFinished)
            }
            let gradients = Tensor(shape: [optimizer.arena.gradients.storage.count], storage: optimizer.arena.gradients.storage, backend: backend)
            try backward(nil)
            let expected = try gradients.toArray()

            let processes = MirroredProcesses()
            let averager = try GradientAverager(arena: optimizer.arena, processes: processes)
            XCTAssertGreaterThan(averager.figures.buckets, 2, "the default-width model should make several buckets")
            averager.beginStep()
            // The buckets started by each leaf's end.
            var startedByLeaf: [Int] = []
            try backward { leaf in
                try averager.leafFinished(leaf)
                startedByLeaf.append(processes.started.count)
            }
            if backend.device == .cpu {
                // On the CPU a bucket's values are on the host as soon as backward has made them
                // (on OpenCL the host enqueues the pass ahead of the device, so the reads end later).
                XCTAssertGreaterThan(startedByLeaf[startedByLeaf.count / 2], 0, "no bucket started in the first half of the backward pass")
            }
            try averager.finish()
            XCTAssertEqual(try gradients.toArray(), expected, "averaged gradients on \(backend.device)")

            // The summed ranges tile the staging memory: each starts where another ended.
            let ranges = processes.started.sorted { $0.start < $1.start }
            XCTAssertEqual(ranges.count, averager.figures.buckets)
            XCTAssertEqual(ranges.map(\.count).reduce(0, +), optimizer.arena.gradients.length(of: optimizer.arena.parameters.indices))
            for (previous, next) in zip(ranges, ranges.dropFirst()) {
                XCTAssertEqual(previous.start + previous.count * MemoryLayout<Float>.size, next.start, "a gap or an overlap between buckets")
            }
        }
    }
}

/// Two processes whose other one holds the same values: a sum doubles them. Records where
/// each non-blocking sum started, and completes each after it has been tested twice.
private final class MirroredProcesses: ProcessGroup {
    var rank: Int { 0 }
    var size: Int { 2 }
    private(set) var started: [(start: Int, count: Int)] = []

    func sum(_ values: UnsafeMutableBufferPointer<Float>) throws {
        for index in values.indices { values[index] *= 2 }
    }
    func sum(_ values: UnsafeMutableBufferPointer<Double>) throws {
        for index in values.indices { values[index] *= 2 }
    }
    func minimum(_ values: UnsafeMutableBufferPointer<Double>) throws {}
    func startSum(_ values: UnsafeMutableBufferPointer<Float>) throws -> PendingCollective {
        started.append((Int(bitPattern: values.baseAddress), values.count))
        return DelayedSum(values: values, group: self)
    }
}

/// A sum that completes on its second test.
private final class DelayedSum: PendingCollective {
    private let values: UnsafeMutableBufferPointer<Float>
    private let group: MirroredProcesses
    private var tests = 0
    private var done = false

    init(values: UnsafeMutableBufferPointer<Float>, group: MirroredProcesses) {
        self.values = values
        self.group = group
    }

    func test() throws -> Bool {
        tests += 1
        if tests == 2 {
            try group.sum(values)
            done = true
        }
        return done
    }
}
