import ViTTraining

/// What a mechanism whose training diverged leaves in its folder (divergence.json), so that a
/// resumed study neither trains it again nor reports figures it does not have.
public struct DivergenceRecord: Codable, Equatable, Sendable {
    /// The trainer's message: the epoch and step whose loss was not finite.
    public var message: String
    public var parameters: Int
    public var multiplyAccumulates: Int

    public init(message: String, parameters: Int, multiplyAccumulates: Int) {
        self.message = message
        self.parameters = parameters
        self.multiplyAccumulates = multiplyAccumulates
    }

    enum CodingKeys: String, CodingKey {
        case message
        case parameters = "params"
        case multiplyAccumulates = "macs_per_image"
    }
}

/// One mechanism's result in a comparison: how its training ended and its epochs.
public struct ComparisonEntry: Sendable {
    /// How a mechanism's training ended.
    public enum Outcome: Equatable, Sendable {
        /// Every epoch ran; summary.csv holds the run's figures.
        case finished(RunSummary)
        /// The loss became NaN or infinite.
        case diverged(DivergenceRecord)
    }

    public var mechanism: String
    public var outcome: Outcome
    /// The epochs that completed (all of them when finished).
    public var epochs: [EpochMetrics]

    public init(mechanism: String, outcome: Outcome, epochs: [EpochMetrics]) {
        self.mechanism = mechanism
        self.outcome = outcome
        self.epochs = epochs
    }

    public var parameters: Int {
        switch outcome {
        case .finished(let summary): return summary.parameters
        case .diverged(let record): return record.parameters
        }
    }

    public var multiplyAccumulates: Int {
        switch outcome {
        case .finished(let summary): return summary.multiplyAccumulates
        case .diverged(let record): return record.multiplyAccumulates
        }
    }

    /// The figures of the end of training, nil when it diverged.
    public var summary: RunSummary? {
        guard case .finished(let summary) = outcome else { return nil }
        return summary
    }

    /// Seconds spent training (the epochs' times, without evaluation), nil without an epoch.
    public var trainingSeconds: Double? {
        epochs.isEmpty ? nil : epochs.reduce(0) { $0 + $1.epochSeconds }
    }

    /// The mean time of an epoch, nil without an epoch.
    public var meanEpochSeconds: Double? {
        trainingSeconds.map { $0 / Double(epochs.count) }
    }

    /// Training images per second over all epochs (images over time, so a slow first epoch
    /// weighs by its length), nil without an epoch.
    public var imagesPerSecond: Double? {
        guard let seconds = trainingSeconds, seconds > 0 else { return nil }
        return epochs.reduce(0) { $0 + $1.imagesPerSecond * $1.epochSeconds } / seconds
    }
}
