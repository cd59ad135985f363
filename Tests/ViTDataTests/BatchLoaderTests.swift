import Foundation
import ViTCore
import XCTest

@testable import ViTData

final class BatchLoaderTests: XCTestCase {
    private func makeDataset(count: Int = 103, side: Int = 8) throws -> Dataset {
        var generator = SeededRandomGenerator(seed: 99)
        let pixels = (0..<(count * 3 * side * side)).map { _ in UInt8(generator.next(below: 256)) }
        return try Dataset(
            name: "synthetic", images: pixels, labels: (0..<count).map { Int32($0 % 7) }, channels: 3, height: side,
            width: side, classCount: 7)
    }

    private func makeLoader(
        _ dataset: Dataset, batchSize: Int = 16, shuffle: Bool = true, seed: UInt64 = 1,
        augmentation: Augmentation = .standard, dropLast: Bool = false, prefetchCount: Int = 2, workers: Int = 1,
        shard: DataShard = .whole
    ) throws -> BatchLoader {
        try BatchLoader(
            source: InMemorySamples(
                dataset: dataset, normalizer: Normalizer(statistics: ChannelStatistics(computedOver: dataset)), augmentation: augmentation),
            batchSize: batchSize, shuffle: shuffle, seed: seed, dropLast: dropLast, prefetchCount: prefetchCount, workers: workers,
            shard: shard)
    }

    /// DistributedSampler's dealing: three shards of batch 5 take positions r, r + 3, ... of
    /// the one seeded order, so together they see exactly the batches of one loader of batch
    /// 15, the last short batch included (where a shard's part may be empty).
    func testShardsTogetherSeeTheBatchesOfOneLoader() throws {
        let dataset = try makeDataset(count: 47)
        for dropLast in [false, true] {
            let whole = try makeLoader(dataset, batchSize: 15, augmentation: .none, dropLast: dropLast).epoch(2).collect()
            let shards = try (0..<3).map { index in
                let loader = try makeLoader(
                    dataset, batchSize: 5, augmentation: .none, dropLast: dropLast, shard: try DataShard(index: index, count: 3))
                XCTAssertEqual(loader.globalBatchSize, 15)
                XCTAssertEqual(loader.batchesPerEpoch, whole.count)
                return try loader.epoch(2).collect()
            }
            for (index, batch) in whole.enumerated() {
                let parts = shards.map { $0[index].sampleIndices }
                XCTAssertEqual(parts.flatMap { $0 }.sorted(), batch.sampleIndices.sorted(), "batch \(index), dropLast \(dropLast)")
                for (rank, part) in parts.enumerated() {
                    XCTAssertEqual(part, stride(from: rank, to: batch.count, by: 3).map { batch.sampleIndices[$0] })
                }
            }
        }
        XCTAssertThrowsError(try DataShard(index: 3, count: 3))
    }

    func testEverySampleExactlyOncePerEpoch() throws {
        let dataset = try makeDataset()
        let loader = try makeLoader(dataset)
        XCTAssertEqual(loader.batchesPerEpoch, 7)
        let batches = try loader.epoch(0).collect()
        XCTAssertEqual(batches.map(\.count), [16, 16, 16, 16, 16, 16, 7])
        XCTAssertEqual(batches.map(\.index), Array(0..<7))
        let seen = batches.flatMap(\.sampleIndices)
        XCTAssertEqual(seen.sorted(), Array(0..<103))
        XCTAssertNotEqual(seen, Array(0..<103), "shuffled")
        for batch in batches {
            XCTAssertEqual(batch.images.count, batch.count * 3 * 8 * 8)
            XCTAssertEqual(batch.imageShape, [batch.count, 3, 8, 8])
            XCTAssertEqual(batch.labels, batch.sampleIndices.map { Float(dataset.labels[$0]) })
        }
        XCTAssertEqual(ProducerThreads.running, 0)
    }

    func testDropLastSkipsThePartialBatch() throws {
        let loader = try makeLoader(try makeDataset(), dropLast: true)
        XCTAssertEqual(loader.batchesPerEpoch, 6)
        XCTAssertEqual(loader.samplesPerEpoch, 96)
        let batches = try loader.epoch(3).collect()
        XCTAssertEqual(batches.map(\.count), [Int](repeating: 16, count: 6))
        XCTAssertEqual(Set(batches.flatMap(\.sampleIndices)).count, 96)
    }

    func testSameSeedSameBatchesWhateverThePrefetchAndWorkers() throws {
        let dataset = try makeDataset()
        let reference = try makeLoader(dataset, prefetchCount: 0).epoch(2).collect()
        for (prefetch, workers) in [(1, 1), (3, 1), (1, 3), (4, 4)] {
            let iterator = try makeLoader(dataset, prefetchCount: prefetch, workers: workers).epoch(2)
            var index = 0
            while let batch = try iterator.nextBatch() {
                if index % 2 == 0 {
                    Thread.sleep(forTimeInterval: 0.002)  // a slow consumer lets the producer run ahead
                }
                XCTAssertEqual(batch.sampleIndices, reference[index].sampleIndices)
                XCTAssertEqual(batch.images, reference[index].images)
                XCTAssertEqual(batch.labels, reference[index].labels)
                index += 1
            }
            XCTAssertEqual(index, reference.count)
        }
        // Another epoch or another seed gives different orders and augmentations.
        let otherEpoch = try makeLoader(dataset).epoch(3).collect()
        XCTAssertNotEqual(otherEpoch[0].sampleIndices, reference[0].sampleIndices)
        let otherSeed = try makeLoader(dataset, seed: 2).epoch(2).collect()
        XCTAssertNotEqual(otherSeed[0].sampleIndices, reference[0].sampleIndices)
        // The epoch's order is exposed and matches.
        XCTAssertEqual(try makeLoader(dataset).order(epoch: 2), reference.flatMap(\.sampleIndices))
    }

    func testAugmentationIsAppliedPerSample() throws {
        let dataset = try makeDataset()
        let plain = try makeLoader(dataset, augmentation: .none).epoch(0).collect()
        let augmented = try makeLoader(dataset).epoch(0).collect()
        XCTAssertEqual(plain[0].sampleIndices, augmented[0].sampleIndices, "augmentation does not change the order")
        XCTAssertNotEqual(plain[0].images, augmented[0].images)
        XCTAssertEqual(plain[0].images.count, augmented[0].images.count)
    }

    func testUnshuffledUnaugmentedBatchesAreTheNormalisedDataset() throws {
        let dataset = try makeDataset()
        let loader = try makeLoader(dataset, batchSize: 10, shuffle: false, augmentation: .none)
        let batches = try loader.epoch(0).collect()
        XCTAssertEqual(batches.flatMap(\.sampleIndices), Array(0..<103))
        XCTAssertEqual(batches.flatMap(\.images), Normalizer(statistics: loader.normalization).normalize(dataset))
        XCTAssertEqual(batches.flatMap(\.labels), dataset.labels.map(Float.init))
    }

    func testAbandoningMidEpochStopsTheThread() throws {
        let dataset = try makeDataset(count: 2000, side: 16)
        let loader = try makeLoader(dataset, batchSize: 8, prefetchCount: 2, workers: 3)
        let start = Date()
        for _ in 0..<5 {
            try {
                var taken = 0
                let batches = loader.epoch(0)
                while let batch = try batches.nextBatch() {
                    XCTAssertEqual(batch.count, 8)
                    taken += 1
                    if taken == 2 { break }
                }
            }()
            // The epoch object is gone: its threads have been joined.
            XCTAssertEqual(ProducerThreads.running, 0)
        }
        // Explicit cancel; next() then returns nil.
        let epoch = loader.epoch(1)
        XCTAssertNotNil(try epoch.nextBatch())
        epoch.cancel()
        XCTAssertNil(try epoch.nextBatch())
        XCTAssertEqual(ProducerThreads.running, 0)
        // Dropped before the first batch was ever asked for.
        _ = loader.epoch(2)
        XCTAssertEqual(ProducerThreads.running, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "abandoning epochs must not hang")
    }

    func testInvalidArguments() throws {
        let dataset = try makeDataset()
        assertDataError(["batch size 0"]) { _ = try makeLoader(dataset, batchSize: 0) }
        assertDataError(["prefetch"]) { _ = try makeLoader(dataset, prefetchCount: -1) }
        assertDataError(["--workers", "0"]) { _ = try makeLoader(dataset, workers: 0) }
        let grayscale = Normalizer(statistics: ChannelStatistics(mean: [0.5], standardDeviation: [0.5]))
        assertDataError(["1 channels", "3"]) {
            _ = try BatchLoader(dataset: dataset, normalizer: grayscale, batchSize: 4)
        }
    }
}
