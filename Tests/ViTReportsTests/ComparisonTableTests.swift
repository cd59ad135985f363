import ViTReports
import XCTest

/// compare.csv and compare.md from known results, to the character.
final class ComparisonTableTests: XCTestCase {
    private let table = ComparisonTable(entries: [Fixtures.standard, Fixtures.linear, Fixtures.performer])

    func testCSVHasOneRowPerMechanismAndNoNumberForWhatIsMissing() {
        // standard: (100 * 600 + 110 * 540) / 210 = 568.57 img/s, 105 s per epoch, 185756120 B = 177.15 MiB.
        // linear diverged: no memory, latency or accuracy. performer: its latency is NaN, so it is left empty.
        XCTAssertEqual(
            table.csv,
            """
            mechanism,status,parameters,macs_per_image,train_images_per_second,epoch_seconds,peak_memory_mib,latency_ms_per_image,top1,top5
            standard,finished,117658,4068192,568.6,105.00,177.2,0.6058,90.55,99.64
            linear,diverged,117000,3000000,1200.0,50.00,,,,
            performer,finished,120000,5000000,1447.6,42.00,100.0,,85.13,99.50

            """)
    }

    func testMarkdownTableNamesTheDivergenceAndShowsNoNaN() {
        let markdown = table.markdown(title: "Attention mechanisms compared: fashion-mnist")
        XCTAssertEqual(
            markdown,
            """
            # Attention mechanisms compared: fashion-mnist

            | mechanism | status | parameters | MACs per image | train img/s | epoch s | peak memory MiB | inference ms/image | top-1 % | top-5 % |
            | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
            | standard | finished | 117658 | 4068192 | 568.6 | 105.00 | 177.2 | 0.6058 | 90.55 | 99.64 |
            | linear | diverged | 117000 | 3000000 | 1200.0 | 50.00 | n/a | n/a | n/a | n/a |
            | performer | finished | 120000 | 5000000 | 1447.6 | 42.00 | 100.0 | n/a | 85.13 | 99.50 |

            - linear diverged after 1 complete epoch(s): the training loss became NaN or infinite at epoch 2, step 3/8 (lr 0.004)

            Train img/s: training images over the epochs' time; epoch s: the mean epoch (training only); \
            peak memory: the most bytes tensors held on the device; inference: the mean forward pass per image at the test batch size; \
            top-1 and top-5: test accuracy after the last epoch.

            """)
    }
}
