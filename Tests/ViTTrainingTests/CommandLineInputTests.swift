import Foundation
import ViTData
import ViTSerialization
import XCTest

/// What a child process wrote, filled on a reading queue.
private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = Data()

    var data: Data {
        get { lock.withLock { bytes } }
        set { lock.withLock { bytes = newValue } }
    }

    var text: String { String(decoding: data, as: UTF8.self) }

    func append(_ more: Data) {
        lock.withLock { bytes.append(more) }
    }
}

/// Bad input to `vit` and `vit-bench`, as a hostile user gives it (issue 18): each case must
/// end the process promptly with a clean error that names the flag or file, never a trap
/// (exit 132/134/139), a hang or a silent success.
final class CommandLineInputTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("vit-input-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    /// An executable that `swift test` built beside the test bundle.
    private func executable(_ name: String) throws -> URL {
        let testBundle = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        let url = testBundle.deletingLastPathComponent().appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else { throw XCTSkip("no \(name) executable at \(url.path)") }
        return url
    }

    /// Runs `program ARGUMENTS` for at most `timeout` seconds; returns its status and output
    /// (nil status: it had to be killed).
    private func run(_ program: String, _ arguments: [String], timeout: Double = 60) throws -> (status: Int32?, output: String) {
        let process = Process()
        process.executableURL = try executable(program)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        // The pipe is read while the process runs, so a chatty one cannot block on a full pipe.
        let output = OutputCollector()
        let reader = DispatchQueue(label: "output")
        reader.async { output.data = pipe.fileHandleForReading.readDataToEndOfFile() }
        guard finished.wait(timeout: .now() + timeout) == .success else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return (nil, "")
        }
        reader.sync {}
        return (process.terminationStatus, String(decoding: output.data, as: UTF8.self))
    }

    /// Each case fails cleanly (status 1, or ArgumentParser's 64) with `message` in its output.
    private func expectCleanErrors(_ program: String, _ cases: [(arguments: [String], message: String)]) throws {
        for (arguments, message) in cases {
            let (status, output) = try run(program, arguments)
            let call = "\(program) \(arguments.joined(separator: " "))"
            guard let status else {
                XCTFail("\(call) hung")
                continue
            }
            XCTAssertTrue([1, 64].contains(status), "\(call) exited \(status):\n\(output.suffix(2000))")
            XCTAssertTrue(output.contains(message), "\(call) said:\n\(output.suffix(2000))\nexpected: \(message)")
        }
    }

    private func write(_ text: String, to name: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    private func fifo() throws -> String {
        let path = folder.appendingPathComponent("fifo").path
        guard mkfifo(path, 0o600) == 0 else { throw XCTSkip("mkfifo failed") }
        return path
    }

    /// A checkpoint as timm writes it (no stored configuration) with one tensor changed.
    private func timmCheckpoint(changing name: String, to tensor: NamedTensor) throws -> String {
        func zeros(_ shape: [Int]) -> NamedTensor { NamedTensor(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *))) }
        var tensors = [
            "patch_embed.proj.weight": zeros([48, 1, 4, 4]), "pos_embed": zeros([1, 65, 48]),
            "blocks.0.mlp.fc1.weight": zeros([192, 48]), "head.weight": zeros([10, 48]),
        ]
        tensors[name] = tensor
        let url = folder.appendingPathComponent("timm-\(UUID().uuidString).safetensors")
        try SafeTensorsFile(tensors: tensors).write(to: url)
        return url.path
    }

    func testTrainFlagsOutOfRange() throws {
        let quick = ["train", "--output-dir", folder.path, "--epochs", "1", "--train-limit", "64", "--test-limit", "32"]
        try expectCleanErrors(
            "vit",
            [
                (quick + ["--test-limit", "0"], "--test-limit must be a positive number of images, got 0"),
                (quick + ["--warmup-epochs=-1"], "--warmup-epochs must not be negative, got -1.0"),
                (quick + ["--warmup-epochs", "1e30"], "--warmup-epochs must be at most --epochs 1"),
                (quick + ["--epochs", "999999999999"], "--epochs must be in 1...100000, got 999999999999"),
                (quick + ["--batch-size", "99999999999"], "--batch-size must be in 1...1048576"),
                (quick + ["--clip-gradient-norm=-1"], "--clip-gradient-norm must not be negative"),
                (quick + ["--weight-decay", "inf"], "--weight-decay must be a finite number, got inf"),
                (quick + ["--lr", "nan"], "--lr must be a finite number, got nan"),
                (quick + ["--label-smoothing", "2"], "--label-smoothing must be in [0, 1], got 2.0"),
                (quick + ["--crop-padding", "100000"], "--crop-padding must be in 0...32, got 100000"),
                (quick + ["--device", ""], "unknown device '': expected cpu, opencl, opencl:N or auto"),
                (quick + ["--exp-name", ".."], "--exp-name must be a folder name"),
                (quick + ["--exp-name", "a,b"], "--exp-name must be a folder name"),
                (quick + ["--exp-name", "a\nb"], "--exp-name must be a folder name"),
                (quick + ["--exp-name", "x/y"], "--exp-name must be a folder name"),
                (quick + ["--attention", "dilated", "--dilated-window", "999999999"], "dilated_window (--dilated-window) must be at most 15"),
                (quick + ["--attention", "dilated", "--dilation-rates", "1,,2"], "--dilation-rates: '' is not an integer"),
                (quick + ["--attention", "dilated", "--dilation-rates", "99999999999"], "dilation_rates (--dilation-rates) must all be in 1...7"),
                (quick + ["--attention", "fibottention", "--fib-wmax", "99999999999"], "fib_wmax (--fib-wmax) must be at most the 64 patches"),
                (quick + ["--attention", "fibottention", "--fib-wmin", "99999999999"], "fib_wmin 99999999999 (--fib-wmin) exceeds"),
                (
                    quick + ["--attention", "performer", "--performer-features", "99999999999"],
                    "performer_features (--performer-features) must be at most 65536"
                ),
                (
                    quick + ["--attention", "nystromformer", "--nystrom-landmarks", "99999999999"],
                    "nystrom_landmarks (--nystrom-landmarks) must be at most 65536"
                ),
                (
                    quick + ["--attention", "nystromformer", "--nystrom-conv", "99999999999"],
                    "nystrom_conv (--nystrom-conv) must be at most 131 taps"
                ),
                (
                    quick + ["--attention", "linformer", "--linformer-k", "99999999999"],
                    "linformer_k (--linformer-k) 99999999999 is larger than the 65 tokens"
                ),
                (
                    quick + ["--attention", "hybrid", "--hybrid-local-heads", "99999999999"],
                    "hybrid_local_heads (--hybrid-local-heads) must be between 0 and the 4 heads"
                ),
                (quick + ["--output-dir", "/proc/no-such-folder/x"], "creating the folder failed: No such file or directory"),
            ])
    }

    /// An image folder through the command line: train (with its data-wait line), eval and
    /// attention maps over the images, and each image-folder flag's clean error.
    func testImageFolderEndToEndAndFlagsOutOfRange() throws {
        let data = folder.appendingPathComponent("images").path
        try SyntheticImageFolder.write(to: data, classes: 2, trainPerClass: 6, validationPerClass: 2)
        let (status, output) = try run(
            "vit",
            [
                "train", "--dataset", "imagefolder", "--data-dir", data, "--device", "cpu", "--output-dir", folder.path, "--exp-name", "images",
                "--epochs", "1", "--batch-size", "4", "--workers", "2",
            ], timeout: 300)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("12 training images in \(data)/train, 4 test images in \(data)/val, 2 classes; 2 files"), output)
        XCTAssertTrue(output.contains("the steps waited"), output)
        let checkpoint = folder.appendingPathComponent("images/model_final.safetensors").path
        let evaluation = try run("vit", ["eval", "--checkpoint", checkpoint, "--dataset", "imagefolder", "--data-dir", data, "--device", "cpu"])
        XCTAssertEqual(evaluation.status, 0, evaluation.output)
        XCTAssertTrue(evaluation.output.contains("on imagefolder/val (4 images)"), evaluation.output)
        let image = try data + "/val/class_1/" + XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: data + "/val/class_1").sorted().first)
        let prediction = try run("vit", ["predict", "--checkpoint", checkpoint, "--device", "cpu", "--json", "--top", "2", image])
        XCTAssertEqual(prediction.status, 0, prediction.output)
        let parsed = try JSONSerialization.jsonObject(with: Data(prediction.output.utf8)) as? [[String: Any]]
        let classes = try XCTUnwrap(parsed?.first?["classes"] as? [[String: Any]], prediction.output)
        XCTAssertEqual(parsed?.first?["file"] as? String, image)
        XCTAssertEqual(classes.count, 2)
        XCTAssertTrue(classes.allSatisfy { ["class_0", "class_1"].contains($0["name"] as? String ?? "") }, prediction.output)
        let total = classes.compactMap { $0["probability"] as? Double }.reduce(0, +)
        XCTAssertEqual(total, 1, accuracy: 1e-9, "two classes: the top two hold all the probability")
        // The same weights as timm writes them (no metadata): the defaults, with a note, and class numbers.
        let timmFile = folder.appendingPathComponent("timm.safetensors")
        try SafeTensorsFile(tensors: SafeTensorsFile.read(from: URL(fileURLWithPath: checkpoint)).tensors).write(to: timmFile)
        let bare = try run("vit", ["predict", "--checkpoint", timmFile.path, "--model", "vit_seed_patch4_32", "--device", "cpu", image])
        XCTAssertEqual(bare.status, 0, bare.output)
        XCTAssertTrue(bare.output.contains("does not say how its images were prepared"), bare.output)
        XCTAssertTrue(bare.output.contains("1. class "), bare.output)
        try expectCleanErrors(
            "vit",
            [
                (["predict", "--checkpoint", checkpoint, folder.path + "/absent.jpg"], "absent.jpg: opening the file failed"),
                (["predict", "--checkpoint", checkpoint, "--top", "0", image], "--top must be in 1...1000, got 0"),
                (["predict", "--checkpoint", checkpoint], "Missing expected argument '<image> ...'"),
            ])
        let quick = ["train", "--dataset", "imagefolder", "--data-dir", data, "--output-dir", folder.path, "--epochs", "1"]
        try expectCleanErrors(
            "vit",
            [
                (["train", "--dataset", "imagefolder", "--epochs", "1"], "--dataset imagefolder needs --data-dir"),
                (quick + ["--data-dir", folder.appendingPathComponent("absent").path], "imagefolder not found"),
                (quick + ["--mean", "0.5,0.5"], "--mean must have 3 finite value(s)"),
                (quick + ["--std", "0.2,0,0.2"], "--std must have 3 positive value(s)"),
                (quick + ["--mean", "a,b,c"], "--mean"),
                (quick + ["--crop-scale", "0.5"], "--crop-scale must be two numbers MIN,MAX"),
                (quick + ["--crop-ratio", "2,1"], "--crop-ratio must be two positive numbers MIN,MAX with MIN <= MAX"),
                (quick + ["--crop-pct", "0"], "--crop-pct must be in (0, 1], got 0.0"),
                (quick + ["--max-image-pixels", "0"], "--max-image-pixels must be in 1...4294967296, got 0"),
                (quick + ["--workers", "0"], "--workers must be in 1...256, got 0"),
                (quick + ["--interpolation", "nearest"], "--interpolation"),
                (quick + ["--crop-padding", "4"], "--crop-padding must be 0 for --dataset imagefolder"),
                (["train", "--epochs", "1", "--crop-pct", "0.9"], "--crop-pct applies to --dataset imagefolder only"),
                (quick + ["--model", "vit_huge_patch14_224"], "unknown --model 'vit_huge_patch14_224'; choose one of vit_seed_patch4_32"),
                (quick + ["--model", "vit_tiny_patch16_224", "--config", "x.json"], "--model and --config both give the architecture"),
            ])
        let list = try run("vit", ["train", "--model", "list"], timeout: 300)
        XCTAssertEqual(list.status, 0, list.output)
        XCTAssertTrue(list.output.contains("vit_small_patch16_224   deit_small_patch16_224"), list.output)
        XCTAssertTrue(list.output.contains("22050664"), list.output)
        XCTAssertTrue(list.output.contains("5717416   1253683200"), list.output)
        try expectCleanErrors(
            "vit-bench",
            [
                (["data", "--data-dir", data, "--workers", "0"], "--workers must be in 1...256, got 0"),
                (["data", "--data-dir", data, "--image-size", "0"], "--image-size must be in 1...4096, got 0"),
                (["data", "--data-dir", folder.path], "imagefolder not found"),
            ])
    }

    func testCompareAndPlotInputs() throws {
        let quick = ["compare", "--output-dir", folder.path, "--epochs", "1", "--train-limit", "64", "--test-limit", "32"]
        let empty = folder.appendingPathComponent("empty-run")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try expectCleanErrors(
            "vit",
            [
                (
                    quick + ["--attention", "standard,foo"],
                    "--attention 'standard,foo': unknown mechanism 'foo'; give comma-separated names from standard,"
                ),
                (quick + ["--attention", "linear,,standard"], "unknown mechanism ''"),
                (quick + ["--attention", "linear,linear"], "--attention 'linear,linear' names linear twice"),
                (quick + ["--epochs", "0"], "--epochs must be in 1...100000, got 0"),
                (quick + ["--attention", "standard,linformer", "--linformer-k", "999"], "--linformer-k"),
                (quick + ["--exp-name", "x/y"], "--exp-name must be a folder name"),
                (["plot"], "Missing expected argument '<run> ...'"),
                (["plot", folder.appendingPathComponent("absent").path], "absent is not a folder"),
                (["plot", empty.path], "empty-run/metrics.jsonl does not exist"),
            ])
    }

    func testTuneInputs() throws {
        try expectCleanErrors(
            "vit",
            [
                (["tune", "--seconds", "0"], "--seconds must be in (0, 60], got 0.0"),
                (["tune", "--seconds", "nan"], "--seconds must be in (0, 60], got nan"),
                (["tune", "--tokens", "65,,257"], "--tokens: '' is not an integer in 1...16384"),
                (["tune", "--head-sizes", "0"], "--head-sizes: '0' is not an integer in 1...256"),
                (["tune", "--device", "cpu"], "only OpenCL kernels are tuned"),
                (["tune", "--family", "gemm"], "--family gemm: no tunable family has that name"),
            ])
    }

    func testConfigurationFieldsOutOfRange() throws {
        let quick = ["train", "--output-dir", folder.path, "--epochs", "1", "--train-limit", "64"]
        let huge = try write(#"{"hidden_size": 4000000000, "num_channels": 1}"#, to: "huge.json")
        let heavy = try write(#"{"hidden_size": 65536, "num_attention_heads": 1, "num_hidden_layers": 1024, "num_channels": 1}"#, to: "heavy.json")
        let initializer = try write(#"{"initializer_range": -1, "num_channels": 1}"#, to: "initializer.json")
        let wrongType = try write(#"{"hidden_size": "wide"}"#, to: "type.json")
        let wide = try write(#"{"image_size": 4096, "patch_size": 16, "num_channels": 1}"#, to: "wide.json")
        try expectCleanErrors(
            "vit",
            [
                // Before: "Fatal error: failed to allocate ... bytes".
                (["train", "--output-dir", folder.path, "--epochs", "1", "--config", wide], "images at image_size 4096 take"),
                (
                    quick + [
                        "--test-limit", "32", "--batch-size", "4096", "--config",
                        try write(#"{"image_size": 2048, "patch_size": 8, "num_channels": 1}"#, to: "tokens.json"),
                    ],
                    "a training step at --batch-size 64 needs at least"
                ),
                (quick + ["--config", huge], "hidden_size must be at most 65536, got 4000000000"),
                (quick + ["--config", heavy], "with gradients and optimizer state need"),
                (quick + ["--config", initializer], "initializer_range must be finite and not negative, got -1.0"),
                (quick + ["--config", wrongType], "field 'hidden_size': expected a value of type Int"),
                (quick + ["--config", try fifo()], "is not a regular file"),
                (
                    quick + [
                        "--config", try write(#"{"patch_size": 3, "image_size": 30, "num_channels": 1}"#, to: "stem.json"), "--patch-embedding",
                        "conv-stem",
                    ],
                    "patch_embedding (--patch-embedding) 'conv-stem' halves the image once per stride-2 convolution, so it needs a patch_size that is a power of two of at least 2, got 3"
                ),
                (quick + ["--patch-embedding", "conv"], "The value 'conv' is invalid for '--patch-embedding <patch-embedding>'"),
            ])
    }

    /// `vit train --help` lists the patch embeddings with the default.
    func testPatchEmbeddingFlagIsDocumentedWithItsDefault() throws {
        let (status, output) = try run("vit", ["train", "--help"])
        XCTAssertEqual(status, 0, output)
        // Words joined by single spaces, whatever the help's line breaks.
        let help = output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(help.contains("(config patch_embedding; default patch). (values: patch, conv-stem)"), help)
    }

    func testFilesThatAreNotCheckpoints() throws {
        let fifo = try fifo()
        let noTokens = try timmCheckpoint(changing: "pos_embed", to: NamedTensor(shape: [1, 0, 48], values: []))
        let scalarHead = try timmCheckpoint(changing: "head.weight", to: NamedTensor(scalar: 1))
        try expectCleanErrors(
            "vit",
            [
                (["eval", "--checkpoint", fifo], "opening for reading failed: not a regular file"),
                (["train", "--resume", fifo, "--output-dir", folder.path], "opening for reading failed: not a regular file"),
                (["eval", "--checkpoint", noTokens], "pos_embed [1, 0, 48] holds 0 tokens"),
                (["eval", "--checkpoint", scalarHead], "head.weight has shape [], not a matrix"),
            ])
    }

    func testAttentionMapsAndScalingPlotInputs() throws {
        let absent = folder.appendingPathComponent("absent.safetensors").path
        let maps = ["attention-maps", "--checkpoint", absent]
        try expectCleanErrors(
            "vit",
            [
                (maps + ["--images", "0"], "--images must be in 1...16, got 0"),
                (maps + ["--images", "99999999999"], "--images must be in 1...16, got 99999999999"),
                (maps + ["--layer", "0"], "--layer must be at least 1 (the first layer), got 0"),
                (maps + ["--output", "maps.jpg"], "--output 'maps.jpg' must name a .png file"),
                (maps, "no checkpoint at \(absent)"),
            ])
        try expectCleanErrors(
            "vit-bench",
            [
                (["attention", "--plot", "scaling.svg"], "--plot 'scaling.svg' must name a .png file"),
                (["attention", "--plot", "/proc/scaling.png"], "'/proc/scaling.png': creating the file failed"),
            ])
    }

    /// The checkpoints of one short epoch: a standard one's maps are written (as a PNG at least
    /// gnuplot's 1200 x 800, from its header), a layer it lacks is refused, and a linformer
    /// checkpoint is refused with the reason.
    func testAttentionMapsOfQuickCheckpoints() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else { throw XCTSkip("Fashion-MNIST is not installed") }
        guard
            (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains(where: {
                FileManager.default.isExecutableFile(atPath: "\($0)/gnuplot")
            })
        else { throw XCTSkip("gnuplot is not installed") }
        func train(_ attention: String) throws -> String {
            let arguments = [
                "train", "--device", "cpu", "--output-dir", folder.path, "--exp-name", attention, "--attention", attention, "--linformer-k", "16",
                "--epochs", "1", "--train-limit", "64", "--test-limit", "32", "--batch-size", "32",
            ]
            let (status, output) = try run("vit", arguments, timeout: 300)
            XCTAssertEqual(status, 0, output)
            return folder.appendingPathComponent("\(attention)/model_final.safetensors").path
        }
        let standard = try train("standard")
        let (status, output) = try run("vit", ["attention-maps", "--checkpoint", standard, "--images", "2"], timeout: 300)
        XCTAssertEqual(status, 0, output)
        let png = folder.appendingPathComponent("standard/attention_maps.png")
        XCTAssertTrue(output.contains("wrote \(png.path): 2 test images x 5 maps"), output)
        // The PNG signature, then IHDR's width and height (big-endian).
        let bytes = [UInt8](try Data(contentsOf: png).prefix(24))
        XCTAssertEqual(Array(bytes.prefix(4)), [137, 80, 78, 71])
        let (width, height) = (bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }, bytes[20..<24].reduce(0) { $0 << 8 | Int($1) })
        XCTAssertGreaterThanOrEqual(width, 1200)
        XCTAssertGreaterThanOrEqual(height, 800)
        try expectCleanErrors(
            "vit",
            [
                (["attention-maps", "--checkpoint", standard, "--layer", "5"], "--layer must be in 1...4 (the checkpoint's layers), got 5"),
                (["attention-maps", "--checkpoint", standard, "--output", "/proc/maps.png"], "'/proc/maps.png': creating the file failed"),
                (["attention-maps", "--checkpoint", try train("linformer")], "linformer mixes the values with softmax(Q (E K)^T / sqrt(d)) F"),
            ])
    }

    /// SIGINT during `vit train`: the run stops after its step with status 130, names the
    /// checkpoint to resume from and leaves no temporary file.
    func testInterruptStopsAfterTheStepAndNamesTheCheckpoint() throws {
        guard FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory) else { throw XCTSkip("Fashion-MNIST is not installed") }
        let process = Process()
        process.executableURL = try executable("vit")
        process.arguments = [
            "train", "--device", "cpu", "--output-dir", folder.path, "--exp-name", "interrupted", "--epochs", "1000", "--train-limit", "64",
            "--test-limit", "32", "--batch-size", "32", "--save-model-every", "1",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let output = OutputCollector()
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try process.run()
        // After the first epoch's line, checkpoint_epoch_1 exists.
        let deadline = Date().addingTimeInterval(120)
        while !output.text.contains("epoch 1/1000 train loss") && process.isRunning && Date() < deadline { usleep(20_000) }
        kill(process.processIdentifier, SIGINT)
        let stopped = Date().addingTimeInterval(30)
        while process.isRunning && Date() < stopped { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        let text = output.text
        XCTAssertEqual(process.terminationReason, .exit, text)
        XCTAssertEqual(process.terminationStatus, 130, text)
        XCTAssertTrue(text.contains("SIGINT: stopped at epoch "), text)
        XCTAssertTrue(text.contains("continue with --resume \(folder.path)/interrupted/checkpoint_epoch_"), text)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("interrupted").path)
        XCTAssertFalse(names.contains { $0.hasSuffix(".tmp") }, "\(names)")
    }

    func testBenchmarkFlagsOutOfRange() throws {
        try expectCleanErrors(
            "vit-bench",
            [
                (["attention", "--seconds", "inf"], "--seconds must be in (0, 3600] seconds, got inf"),
                (["kernels", "--seconds=-1"], "--seconds must be in (0, 3600] seconds, got -1.0"),
                (["attention", "--batch=-3"], "--batch must be in 1...4096, got -3"),
                (["attention", "--head-size", "0"], "--head-size must be in 1...4096, got 0"),
                (["attention", "--tokens", "65,0"], "--tokens: '0' is not a token count"),
                (["attention", "--tokens", "1000000", "--quadratic-limit", "1000000"], "N 1000000 needs about"),
                (["training", "--batch-size=-3"], "--batch-size must be in 1...1048576, got -3"),
                (["training", "--steps", "0"], "--steps must be in 1...1000000, got 0"),
                // A folder where the CSV should go, or a place no file can be made: named before measuring.
                (["attention", "--tokens", "65", "--csv", folder.path], "'\(folder.path)': creating the file failed: Is a directory"),
                (["attention", "--tokens", "65", "--csv", "/proc/rows.csv"], "'/proc/rows.csv': creating the file failed"),
                (["training", "--model", "vit_giant"], "unknown --model 'vit_giant'"),
                // Before: "Fatal error: failed to allocate ... bytes".
                (["training", "--batch-size", "1000000"], "a training step at --batch-size 1000000 needs at least"),
            ])
    }
}
