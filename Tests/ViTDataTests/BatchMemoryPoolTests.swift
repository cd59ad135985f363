import ViTCore
import XCTest

@testable import ViTData

/// Batches assembled in pinned buffers: the same batches as arrays, a buffer reused only
/// after its upload completed, and arrays when the pool runs dry instead of a deadlock.
final class BatchMemoryPoolTests: XCTestCase {
    /// An upload the test completes by hand.
    private final class ManualTransfer: DeviceTransfer {
        var complete = false
        func isComplete() throws -> Bool { complete }
    }

    /// Plain memory standing in for a device's pinned memory; uploads stay incomplete until
    /// the test says so.
    private final class FakePinnedMemory: PinnedHostMemory {
        let values: UnsafeMutableBufferPointer<Float>
        var uploads: [ManualTransfer] = []

        init(count: Int) {
            values = .allocate(capacity: count)
            values.initialize(repeating: .nan)
        }

        deinit { values.deallocate() }

        func startRead(_ storage: DeviceStorage, at offset: Int) throws -> DeviceTransfer { ManualTransfer() }

        func startWrite(to storage: DeviceStorage, from offset: Int) throws -> DeviceTransfer {
            let transfer = ManualTransfer()
            uploads.append(transfer)
            return transfer
        }
    }

    /// Storage the fake uploads go to (only its count is read).
    private final class FakeStorage: DeviceStorage {
        let count: Int
        init(count: Int) { self.count = count }
    }

    private func makeDataset() throws -> Dataset {
        var generator = SeededRandomGenerator(seed: 4)
        let pixels = (0..<(37 * 3 * 6 * 6)).map { _ in UInt8(generator.next(below: 256)) }
        return try Dataset(name: "pool", images: pixels, labels: (0..<37).map { Int32($0 % 5) }, channels: 3, height: 6, width: 6, classCount: 5)
    }

    private func loader(_ dataset: Dataset, pool: BatchMemoryPool?, workers: Int = 2) throws -> BatchLoader {
        try BatchLoader(
            source: InMemorySamples(
                dataset: dataset, normalizer: Normalizer(statistics: ChannelStatistics(computedOver: dataset)), augmentation: .standard),
            batchSize: 8, shuffle: true, seed: 9, workers: workers, memoryPool: pool)
    }

    func testPinnedBatchesEqualArrayBatches() throws {
        let dataset = try makeDataset()
        let reference = try loader(dataset, pool: nil).epoch(1).collect()
        var made: [FakePinnedMemory] = []
        let pool = try BatchMemoryPool(capacity: 8 * 108, buffers: BatchLoader.batchesInFlight(workers: 2)) { count in
            let memory = FakePinnedMemory(count: count)
            made.append(memory)
            return memory
        }
        XCTAssertEqual(made.count, 4)
        let batches = try loader(dataset, pool: pool).epoch(1)
        var pinned = 0
        while let batch = try batches.nextBatch() {
            XCTAssertEqual(batch.images, reference[batch.index].images, "batch \(batch.index)")
            XCTAssertEqual(batch.sampleIndices, reference[batch.index].sampleIndices)
            if let memory = batch.pinnedImages {
                pinned += 1
                try memory.startUpload(to: FakeStorage(count: batch.count * 108))
                // The step's upload completes before the next batch is needed.
                for upload in made.flatMap(\.uploads) { upload.complete = true }
            }
        }
        XCTAssertEqual(pinned, reference.count, "every batch was assembled in pinned memory")
    }

    func testABufferIsReusedOnlyAfterItsUploadCompleted() throws {
        var made: [FakePinnedMemory] = []
        let pool = try BatchMemoryPool(capacity: 4, buffers: 1) { count in
            let memory = FakePinnedMemory(count: count)
            made.append(memory)
            return memory
        }
        var first = pool.acquire()
        XCTAssertNotNil(first)
        XCTAssertNil(pool.acquire(), "the only buffer is taken")
        try first?.startUpload(to: FakeStorage(count: 4))
        first = nil
        XCTAssertNil(pool.acquire(), "returned, but its upload is still running")
        made[0].uploads[0].complete = true
        XCTAssertNotNil(pool.acquire(), "the upload completed: the buffer is free again")
    }

    /// A consumer that keeps every batch (collect) drains the pool: the rest come as arrays.
    func testADrainedPoolFallsBackToArrays() throws {
        let dataset = try makeDataset()
        let pool = try BatchMemoryPool(capacity: 8 * 108, buffers: 2) { FakePinnedMemory(count: $0) }
        let batches = try loader(dataset, pool: pool, workers: 1).epoch(0).collect()
        let reference = try loader(dataset, pool: nil, workers: 1).epoch(0).collect()
        XCTAssertEqual(batches.map(\.images), reference.map(\.images))
        XCTAssertEqual(batches.filter { $0.pinnedImages != nil }.count, 2)
    }
}
