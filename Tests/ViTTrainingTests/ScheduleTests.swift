import ViTTraining
import XCTest

final class ScheduleTests: XCTestCase {
    func testWarmupThenCosine() {
        let schedule = LearningRateSchedule(peakRate: 1, minimumRate: 0, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(schedule.rate(at: 0), 0.1, accuracy: 1e-6)
        XCTAssertEqual(schedule.rate(at: 9), 1, accuracy: 1e-6)
        XCTAssertEqual(schedule.rate(at: 60), 0.5, accuracy: 1e-6)
        XCTAssertEqual(schedule.rate(at: 110), 0, accuracy: 1e-6)
    }
}
