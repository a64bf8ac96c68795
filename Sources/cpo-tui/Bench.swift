import ArgumentParser
import Bridge
import CausalPO
import CPOSupport
import Dashboard
import Foundation
import Lab
import TinyLM

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the training core on the reference config \"tiny\".",
        discussion: """
            Reports training tokens/s (forward + backward + AdamW, batch 32 x 64 tokens), sampling
            tokens/s (batch 32, 64 new tokens, KV cache), GEMM GFLOP/s on the four shapes of a
            training step, tokenizer training time (10,000 short texts, vocabulary 1024) and peak
            memory. Medians of repeated runs; the machine should be otherwise idle. With
            --default-run, also the default comparison (`cpo-tui run` with its defaults) in a child
            process: its wall time and peak memory.
            """)

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Flag(help: "Also show where a training step spends its time, per phase.")
    var breakdown = false

    @Flag(help: "Only measure the GEMM shapes (quick kernel check).")
    var gemmOnly = false

    @Option(help: "Kernel build: avx512-bf16 (bf16 training GEMMs), avx512, avx2 or portable (default: the best this CPU supports).")
    var kernels: String?

    @Option(help: "Threads for the kernels.")
    var threads: Int = Compute.defaultThreads

    @Option(help: "Minimum seconds of timed training steps.")
    var seconds: Double = 3

    @Flag(help: "Only measure the dashboard: frame render times at 120x40 and 300x100, and the idle loop's CPU use.")
    var frames = false

    @Flag(help: "Only measure the sensitivity analysis: 2,000 rows at 50 values of Λ (bounds, Λ*, 200 bootstrap replicates).")
    var sensitivity = false

    @Flag(help: "Also run the default comparison (cpo-tui run with its defaults, saved to a temporary directory) in a child process and report its wall time and peak memory (a minute or two).")
    var defaultRun = false

    @Flag(help: "Soak test: the dashboard, driven by scripted keys, trains --soak-seeds seeds x --soak-epochs epochs in this one process; scripts/soak.sh samples its memory and open files every second.")
    var soak = false

    @Option(help: "Seeds of the soak test, one after the other.")
    var soakSeeds = 5

    @Option(help: "Epochs per method and seed of the soak test.")
    var soakEpochs = 20

    @Option(help: "The soak test's experiment, as flags of `cpo-tui run` in one string (default: \"\(SoakBench.defaultRunFlags)\").")
    var soakRun: String?

    @Option(help: "Where the soak test writes its run, report, screens, log and events.csv (default: a new temporary directory).")
    var soakDir: String?

    func run() throws {
        if soak {
            guard soakSeeds >= 1, soakEpochs >= 1 else { throw ValidationError("--soak-seeds and --soak-epochs must be at least 1") }
            let dir = soakDir ?? NSTemporaryDirectory() + "cpo-tui-soak-\(getpid())"
            let settings = SoakBench.Settings(seeds: soakSeeds, epochs: soakEpochs, runFlags: soakRun ?? SoakBench.defaultRunFlags,
                                              directory: dir, json: json)
            return try MainActor.assumeIsolated { try SoakBench.run(settings) }
        }
        if frames && sensitivity { throw ValidationError("pass --frames or --sensitivity, not both") }
        if defaultRun && (frames || sensitivity || gemmOnly) {
            throw ValidationError("--default-run goes with the core benchmark, not with --frames, --sensitivity or --gemm-only")
        }
        if frames { return try runFrames() }
        if sensitivity { return try runSensitivity() }
        let compute = try makeCompute()
        var gemm: [(String, Double)] = []
        var notes: [String: String] = [:]
        for s in GemmBenchmark.tinyShapes {
            gemm.append((s.name, GemmBenchmark.measure(s, compute: compute)))
            if !s.storage.isEmpty { notes[s.name] = "   (" + s.storage + ")" }
        }
        let geomean = exp(gemm.map { log($0.1) }.reduce(0, +) / Double(gemm.count))
        if gemmOnly {
            if json {
                try printJSON(["kernels": compute.path.rawValue, "threads": compute.threads,
                               "gemm_gflops": Dictionary(uniqueKeysWithValues: gemm), "gemm_geomean_gflops": geomean])
            } else {
                print("kernels \(compute.path.rawValue), threads \(compute.threads)")
                for (name, r) in gemm { print(row("gemm " + name, r, "GFLOP/s") + (notes[name] ?? "")) }
                print(row("gemm geomean", geomean, "GFLOP/s"))
            }
            return
        }
        let cfg = ModelConfig.tiny
        if !json { progress("training steps on \"tiny\" ...") }
        let train = try Benchmark.training(config: cfg, batch: 32, compute: compute, minSeconds: seconds, profile: false)
        var phases: [StepPhase: Double] = [:]
        if breakdown {
            if !json { progress("profiled training steps ...") }
            phases = try Benchmark.training(config: cfg, batch: 32, compute: compute, minSeconds: 1, profile: true).phaseSeconds
        }
        if !json { progress("sampling ...") }
        let sample = try Benchmark.sampling(config: cfg, batch: 32, newTokens: 64, compute: compute)
        if !json { progress("tokenizer training ...") }
        let tok = try Benchmark.tokenizerTraining(texts: 10_000, vocabSize: 1024)
        let rss = Benchmark.peakResidentMB() ?? -1
        if defaultRun && !json { progress("the default comparison (cpo-tui run), in a child process ...") }
        let comparison = defaultRun ? try DefaultRunBench.measure(kernels: kernels) : nil
        if json {
            var obj: [String: Any] = [
                "kernels": compute.path.rawValue, "threads": compute.threads,
                "config": "tiny", "parameters": ParameterLayout(cfg).count,
                "train_tokens_per_s": train.tokensPerSecond.rounded(),
                "train_step_ms": train.medianStepSeconds * 1000,
                "sample_tokens_per_s": sample.rounded(),
                "gemm_gflops": Dictionary(uniqueKeysWithValues: gemm), "gemm_geomean_gflops": geomean,
                "tokenizer_train_s": tok, "peak_rss_mb": rss,
            ]
            if breakdown {
                obj["breakdown_ms"] = Dictionary(uniqueKeysWithValues: phases.map { ($0.key.name, $0.value * 1000) })
            }
            if let comparison {
                obj["default_run_seconds"] = comparison.seconds
                obj["default_run_cpu_seconds"] = comparison.cpuSeconds
                obj["default_run_peak_rss_mb"] = comparison.peakMB
            }
            try printJSON(obj)
        } else {
            print("cpo-tui bench: config tiny (\(ParameterLayout(cfg).count) parameters), kernels \(compute.path.rawValue), \(compute.threads) threads")
            print(row("training", train.tokensPerSecond, "tokens/s") + String(format: "   (%.1f ms per 2,048-token step)", train.medianStepSeconds * 1000))
            print(row("sampling", sample, "tokens/s") + "   (batch 32, 64 new tokens, KV cache)")
            for (name, r) in gemm { print(row("gemm " + name, r, "GFLOP/s") + (notes[name] ?? "")) }
            print(row("gemm geomean", geomean, "GFLOP/s"))
            print(row("tokenizer training", tok, "s", digits: 3) + "   (10,000 texts, vocabulary 1024)")
            print(row("peak memory", rss, "MB"))
            if let comparison {
                print(row("default comparison", comparison.seconds, "s") + String(format: "   (%.1f s of CPU; cpo-tui run, 4 methods x 3 epochs)", comparison.cpuSeconds))
                print(row("default comparison peak memory", comparison.peakMB, "MB"))
            }
            if breakdown {
                let total = phases.values.reduce(0, +)
                print("\ntraining step, per phase (wall ms per step, share):")
                for p in StepPhase.allCases {
                    let s = phases[p] ?? 0
                    print("  " + p.name.padding(toLength: 30, withPad: " ", startingAt: 0)
                          + String(format: "%8.2f ms  %5.1f%%", s * 1000, 100 * s / max(total, 1e-12)))
                }
                print("  " + "sum of phases".padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: "%8.2f ms", total * 1000))
            }
        }
    }

    /// `--frames`: each screen rendered at 120x40 and 300x100 (median and 95th percentile ms),
    /// then the frame loop left idle for two seconds at 15 frames per second (CPU share of one core).
    private func runFrames() throws {
        if !json { progress("rendering frames ...") }
        let sizes = [TerminalSize(width: 120, height: 40), TerminalSize(width: 300, height: 100)]
        let results = FrameBenchmark.run(sizes: sizes)
        if !json { progress("idle loop (2 s) ...") }
        let idle = MainActor.assumeIsolated { IdleLoopProbe.cpuShare(seconds: 2) }
        if json {
            let frames = results.map { r -> [String: Any] in
                ["screen": r.name, "size": r.size.description, "median_ms": r.medianMS, "p95_ms": r.p95MS, "frames": r.frames]
            }
            try printJSON(["frames": frames, "idle_cpu_percent": idle * 100])
            return
        }
        print("cpo-tui bench --frames: a long run's snapshot (4 methods x 10 epochs x 200 steps, 2,000 rows, 300 generations)")
        for r in results {
            print("  " + "\(r.name) \(r.size)".padding(toLength: 34, withPad: " ", startingAt: 0)
                  + String(format: "median %6.2f ms   p95 %6.2f ms   (%d frames)", r.medianMS, r.p95MS, r.frames))
        }
        print(String(format: "  idle frame loop at 15 fps: %.2f%% of one core (nothing changes, nothing is drawn)", idle * 100))
    }

    /// `--sensitivity`: the analysis the lab runs at every evaluation, on 2,000 held-out rows
    /// (and 2,000 f0 samples) at 50 values of Λ from 1 to 10 (`Sensitivity.logGrid`): the point
    /// bounds (sorting included), the breakdown value Λ*, and the whole analysis with 200
    /// bootstrap replicates, for V_SNIPW and V_DR. Medians of repeated runs, in ms.
    private func runSensitivity() throws {
        let n = 2_000, count = 50, replicates = Sensitivity.defaultReplicates
        let lambdas = Sensitivity.logGrid(maximum: 10, count: count)
        let inputs = SensitivityBench.inputs(rows: n, seed: 7)
        if !json { progress("sensitivity analysis, \(n) rows x \(count) values of Λ ...") }
        var results: [(key: String, name: String, ms: Double)] = []
        for e in Sensitivity.estimators {
            // FT's value: P^R's own (every weight 1), as `cpo-tui sensitivity` takes it without one.
            let reference = RowsSensitivity.prOwnValue(inputs, estimator: e) ?? 0
            let point = SensitivityBench.medianMS(repeats: 21) {
                guard let p = Sensitivity.problem(inputs, estimator: e) else { return }
                for l in lambdas { SensitivityBench.keep(p.bounds(lambda: l).lower) }
            }
            guard let problem = Sensitivity.problem(inputs, estimator: e) else { continue }
            let breakdown = SensitivityBench.medianMS(repeats: 21) { SensitivityBench.keep(problem.breakdown(reference: reference)) }
            let full = SensitivityBench.medianMS(repeats: 7) {
                SensitivityBench.keep(Sensitivity.analyze(inputs, estimator: e, reference: reference, lambdas: lambdas,
                                                          replicates: replicates)?.point ?? 0)
            }
            results += [("point_bounds_\(e.summaryKey)", "\(e.name): point bounds at 50 Λ (sort included)", point),
                        ("breakdown_\(e.summaryKey)", "\(e.name): breakdown Λ*", breakdown),
                        ("analysis_\(e.summaryKey)", "\(e.name): full analysis, \(replicates) replicates", full)]
        }
        if json {
            var obj: [String: Any] = ["rows": n, "f0_samples": n, "lambdas": count, "replicates": replicates, "goal_ms": 50]
            for r in results { obj[r.key + "_ms"] = r.ms }
            try printJSON(["sensitivity": obj])
            return
        }
        print("cpo-tui bench --sensitivity: \(n) rows (and \(n) f0 samples), \(count) values of Λ from 1 to 10, medians")
        for r in results {
            print(row("  " + r.name, r.ms, "ms", digits: 2, width: 48) + (r.key.hasPrefix("analysis") ? "   (goal < 50 ms)" : ""))
        }
    }

    private func makeCompute() throws -> Compute {
        guard let kernels else { return Compute(threads: threads) }
        guard let path = KernelPath(rawValue: kernels) else {
            throw ValidationError("unknown kernel build '\(kernels)'; use \(KernelPath.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let c = Compute(path: path, threads: threads) else {
            throw ValidationError("this CPU cannot run the \(kernels) kernels; it supports: \(KernelPath.supported.map(\.rawValue).joined(separator: ", "))")
        }
        return c
    }

    private func row(_ name: String, _ value: Double, _ unit: String, digits: Int = 1, width: Int = 36) -> String {
        name.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "%10.\(digits)f ", value) + unit
    }

    private func progress(_ s: String) {
        FileHandle.standardError.write(Data(("  " + s + "\n").utf8))
    }

    private func printJSON(_ obj: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

/// The dashboard's frame loop over a terminal that never has input and a snapshot that never
/// changes (what an idle dashboard does between frames), timed by the process's CPU clock.
@MainActor
enum IdleLoopProbe {
    final class Quiet: TerminalBackend {
        let size = TerminalSize(width: 120, height: 40)
        let colors = 256
        func draw(_ frame: CellBuffer) {}
        func nextEvent(timeout milliseconds: Int) -> InputEvent {
            usleep(useconds_t(max(0, milliseconds) * 1000))
            return .timeout
        }
        func setMouse(_ on: Bool) {}
    }

    final class Still: SnapshotSource {
        let picture = FrameBenchmark.snapshot()
        func snapshot() -> LabSnapshot { picture }
        func send(_ command: LabCommand) {}
    }

    /// CPU seconds per wall second of the idle loop, counted from the end of its first frame.
    static func cpuShare(seconds: Double) -> Double {
        let source = Still()
        final class Clock: @unchecked Sendable {
            var start: (wall: Date, cpu: Double)?
        }
        let clock = Clock()
        let loop = DashboardLoop(framesPerSecond: 15,
                                 shouldStop: { clock.start.map { Date().timeIntervalSince($0.wall) >= seconds } ?? false },
                                 afterFrame: { _ in clock.start = (Date(), processCPUSeconds()) })
        var state = DashboardState()
        loop.run(&state, backend: Quiet(), source: source)
        guard let start = clock.start else { return .nan }
        return (processCPUSeconds() - start.cpu) / Date().timeIntervalSince(start.wall)
    }

    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// `bench --default-run`: the default comparison as a user runs it (`cpo-tui run`, every option
/// at its default, saved to a temporary run directory), in a child process of this binary so
/// that its peak memory is its own (`wait4`'s resource usage), not the benchmark's.
enum DefaultRunBench {
    struct Result {
        var seconds: Double
        var cpuSeconds: Double
        var peakMB: Double
    }

    /// Runs the comparison in the current directory (where `cpo-tui run` finds the shipped
    /// worlds); `kernels`, when given, is passed on as CPO_KERNELS.
    static func measure(kernels: String?) throws -> Result {
        let dir = NSTemporaryDirectory() + "cpo-tui-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Never from the preparation cache: the measured run prepares from scratch.
        let arguments = ["run", "--run-dir", dir + "/run", "--no-cache"]
        var environment = ProcessInfo.processInfo.environment
        if let kernels { environment["CPO_KERNELS"] = kernels }
        // This very binary (argv[0] may be a bare name found on PATH).
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let errors = dir + "/stderr.txt"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }

        let t0 = Date()
        var pid = pid_t()
        let spawned = posix_spawnp(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw CLIError("--default-run: cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw CLIError("--default-run: lost the child process: \(String(cString: strerror(errno)))") }
        }
        let seconds = Date().timeIntervalSince(t0)
        guard status == 0 else {
            let said = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            throw CLIError("--default-run: cpo-tui run failed (wait status \(status)): \(said.suffix(2000))")
        }
        #if os(Linux)
        let peakBytes = Double(usage.ru_maxrss) * 1024
        #else
        let peakBytes = Double(usage.ru_maxrss)
        #endif
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return Result(seconds: seconds, cpuSeconds: cpu, peakMB: peakBytes / 1_048_576)
    }
}

/// The held-out rows `bench --sensitivity` analyses, and its clock.
enum SensitivityBench {
    /// `rows` rows and as many f0 samples: log-ratios with a spread like a trained policy's
    /// (sd 1), outcomes with a gain the weights favour, ĝ a noisy fit of them.
    static func inputs(rows n: Int, seed: UInt64) -> EstimatorInputs {
        var rng = SeededRandom(seed: seed)
        let logPR = (0..<n).map { _ in -40 + 5 * rng.gaussian() }
        let shift = (0..<n).map { _ in rng.gaussian() }
        let outcomes = shift.map { 0.3 * $0 + rng.gaussian() }
        let ghat = outcomes.map { 0.7 * $0 + 0.5 * rng.gaussian() }
        let logP0 = (0..<n).map { _ in -40 + 5 * rng.gaussian() }
        let sampleShift = (0..<n).map { _ in rng.gaussian() }
        return EstimatorInputs(logP: zip(logPR, shift).map { $0 + $1 }, logPR: logPR, outcomes: outcomes, ghat: ghat,
                               sampleLogP: zip(logP0, sampleShift).map { $0 + $1 }, sampleLogP0: logP0,
                               sampleGhat: sampleShift.map { 0.2 * $0 + 0.5 * rng.gaussian() }, normalization: .hajek)
    }

    /// The median wall time of `repeats` runs of `body`, in ms (after one untimed run).
    static func medianMS(repeats: Int, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        return times.sorted()[times.count / 2]
    }

    /// Keeps a result alive so the optimizer cannot drop the work that made it.
    nonisolated(unsafe) static var sink = 0.0
    static func keep(_ x: Double) { sink += x }
}
