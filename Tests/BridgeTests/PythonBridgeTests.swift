import Bridge
@testable import CausalPO
import CPOSupport
import Foundation
import Lab
import OutcomeData
import Testing

/// The reference trainer's tests (Tests/BridgeTests/Python), run with the interpreter named by
/// `CPO_TUI_PYTHON` (.ci/run prepares one with CPU torch, transformers, accelerate, datasets).
/// Without it the suite is skipped, except on CI (`CI` set), where that is a failure.
enum PythonBridge {
    static let interpreter: String? = {
        guard let p = ProcessInfo.processInfo.environment["CPO_TUI_PYTHON"], !p.isEmpty else { return nil }
        return p
    }()
    static var available: Bool { interpreter != nil }
    /// The `cpo-tui` binary `swift test` built beside the test bundle.
    static let binary: URL? = Spawn.builtBinary

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let testsDirectory = repository.appendingPathComponent("Tests/BridgeTests/Python")
    static let trainer = repository.appendingPathComponent("Sources/Bridge/Resources/train_cpo.py")

    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cpo-bridge-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs one Python test module (`unittest -v`) with `environment`; fails the Swift test
    /// with the module's output when a Python test fails or errs.
    static func runModule(_ module: String, environment: [String: String] = [:], timeout: Double = 300) throws {
        let python = try #require(interpreter)
        var env = environment
        env["CPO_TUI_TRAINER"] = trainer.path
        env["HF_HUB_OFFLINE"] = "1"
        env["TRANSFORMERS_OFFLINE"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        let r = try Spawn.run(python, ["-m", "unittest", "-v", module], directory: testsDirectory.path, environment: env,
                              timeout: timeout)
        let log = r.stdout + r.stderr
        #expect(!r.timedOut, "\(module) did not finish in \(Int(timeout)) s:\n\(log)")
        #expect(r.status == 0, "\(module) failed (status \(r.status)):\n\(log)")
        // A Python test that skipped for want of an input this suite was meant to give is a failure.
        #expect(!log.contains("skipped"), "\(module) skipped tests:\n\(log)")
    }
}

@Suite struct PythonBridgeSetupTests {
    @Test func continuousIntegrationHasAnInterpreter() {
        let ci = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false
        #expect(!ci || PythonBridge.available,
                "CI is set but CPO_TUI_PYTHON is not: .ci/run builds the Python environment and exports it")
    }
}

@Suite(.enabled(if: PythonBridge.available,
                "set CPO_TUI_PYTHON to a Python with torch, transformers, accelerate and datasets (.ci/run does)"),
       .serialized)
struct PythonBridgeTests {
    /// Losses and per-sequence coefficients of every method and option set, Swift against Python.
    @Test func objectivesAndGhatMatchSwift() throws {
        let dir = try PythonBridge.temporaryDirectory("parity")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("parity.json")
        try ParityCases.make().write(to: file)
        let ghat = dir.appendingPathComponent("ghat")
        try FileManager.default.createDirectory(at: ghat, withIntermediateDirectories: true)
        try GhatParity.write(to: ghat)
        try PythonBridge.runModule("test_parity", environment: ["CPO_TUI_PARITY": file.path, "CPO_TUI_GHAT_PARITY": ghat.path])
    }

    /// The shifted, masked sequence log-prob on the tiny model (no Swift input).
    @Test func sequenceLogProbabilities() throws {
        try PythonBridge.runModule("test_logprob")
    }

    /// The export loads with `datasets` and train_cpo.py's reader; `accelerate launch` trains
    /// from a model directory (the path any causal LM name takes).
    @Test func exportLoadsAndAnyModelPathTrains() throws {
        let dir = try PythonBridge.temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(at: dir) }
        try TestExport.write(to: dir)
        try PythonBridge.runModule("test_export", environment: ["CPO_TUI_EXPORT": dir.path])
    }

    /// Two processes (torchrun, gloo) train CPO on an export of a shipped world; one process
    /// computes the same first step; the f0 samples the run drew score the same through
    /// `ghat score` (GhatScoring) as in the trainer; `estimate` and `watch` read the run.
    @Test func twoProcessesTrainCPO() throws {
        let dir = try PythonBridge.temporaryDirectory("export")
        defer { try? FileManager.default.removeItem(at: dir) }
        let export = dir.appendingPathComponent("export"), run = dir.appendingPathComponent("run")
        // The user's first command, by the binary: the same options as TestExport.
        let binary = try #require(PythonBridge.binary, "the cpo-tui binary is not built beside the tests")
        let exported = try Spawn.run(binary.path, ["export", "--to", export.path] + TestExport.arguments, timeout: 300)
        #expect(exported.status == 0, "cpo-tui export failed:\n\(exported.stdout)\(exported.stderr)")
        try PythonBridge.runModule("test_distributed", environment: ["CPO_TUI_EXPORT": export.path, "CPO_TUI_RUN_OUT": run.path],
                                   timeout: 400)
        // The user's last commands, by the binary: `estimate --json` equals a numpy
        // recomputation from the run's files; `watch --once` renders the two-process run.
        try PythonBridge.runModule("test_readback", environment: ["CPO_TUI_RUN_OUT": run.path, "CPO_TUI_BINARY": binary.path])

        let drawn = run.appendingPathComponent("f0_samples.jsonl"), scored = dir.appendingPathComponent("scored.jsonl")
        let model = try GhatScoring.loadModel(export.appendingPathComponent("ghat.json").path)
        let count = try GhatScoring.score(model: model, input: drawn.path, output: scored.path)
        func ghats(_ url: URL) throws -> [Double] {
            try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return try #require(object?["ghat"] as? Double)
            }
        }
        let python = try ghats(drawn), swift = try ghats(scored)
        #expect(count == 24 + 48 && python.count == count)
        for (p, s) in zip(python, swift) { #expect(abs(p - s) <= 1e-9 * max(1, abs(s)), "ĝ in train_cpo.py \(p), ghat score \(s)") }

        // `cpo-tui estimate` reads the run's rows and f0 files: every weight matches its log-probs.
        let estimate = RowsEstimate(rows: try RowsFile(path: run.appendingPathComponent("rows-CPO-seed0.csv").path),
                                    f0: try F0File(path: run.appendingPathComponent("f0-CPO-seed0.csv").path))
        #expect(estimate.rowCount == 24 && estimate.f0Count == 24)
        #expect(estimate.rowsCheck.matches && estimate.f0Check?.matches == true)
        // `cpo-tui watch` reads metrics.jsonl and the files each epoch line names: FT at epoch 0, CPO trained one epoch.
        var watch = WatchModel(directory: run.path)
        _ = watch.ingest(try Data(contentsOf: run.appendingPathComponent("metrics.jsonl")))
        let snapshot = watch.snapshot()
        #expect(snapshot.methods.map(\.method) == [.ft, .cpo])
        let cpo = try #require(snapshot.methods.first { $0.method == .cpo })
        #expect(cpo.epochs.map(\.epoch) == [0, 1] && !cpo.steps.isEmpty)
        #expect(watch.waitingEpochs == 0)
    }
}

// MARK: - Parity cases

/// Seeded batches and Swift's answers (`Objectives`), for test_parity.py.
struct ParityCases: Codable {
    struct Batch: Codable {
        var logp, logpr, outcomes, ghat, sample_logp, sample_logp0, sample_ghat, logp_ft: [Double]
        var selected: [Bool]
        var outcome_sd, outcome_minimum: Double
    }

    struct Output: Codable {
        var loss: Double
        var grad_logp, grad_sample_logp, weights, sample_weights: [Double]
        var clipped_share: Double
    }

    struct ObjectiveCase: Codable {
        var name, method: String
        var options: ObjectiveOptions
        var batch: Batch
        var expected: Output
    }

    /// One training step as MethodRun.trainStep assembles it: the objective, the token-level
    /// terms on the objective's sequences, the anchor (λ·sd(Y)) on the forwarded rows.
    struct StepCase: Codable {
        var name, method: String
        var options: ObjectiveOptions
        var rows_logp, rows_logpr, rows_outcomes, rows_ghat, rows_klsum, rows_entropy: [Double]
        var rows_tokens: [Int]
        var samples_logp, samples_logp0, samples_ghat, samples_klsum, samples_entropy: [Double]
        var samples_tokens: [Int]
        var outcome_sd, outcome_minimum: Double
        var own_kl: [Double]?
        var kl_beta: Double?
        var loss: Double
        var coef_logp, coef_kl, coef_entropy: [Double]
        var own_coef_logp, own_coef_kl: [Double]
    }

    struct AnchorCase: Codable { var logp: [Double]; var tokens: [Int]; var weight, loss: Double; var grad: [Double] }
    struct KLCase: Codable { var kl_sums: [Double]; var beta, loss: Double; var grad_kl, grad_logp: [Double] }
    struct TokenCase: Codable { var tokens: [Int]; var kl_to_ft, entropy_bonus: Double; var kl, entropy: [Double] }
    struct ControllerCase: Codable { var target, horizon, initial: Double; var kls, coefficients: [Double] }

    var objectives: [ObjectiveCase] = []
    var steps: [StepCase] = []
    var anchors: [AnchorCase] = []
    var sampled_kl: [KLCase] = []
    var token_terms: [TokenCase] = []
    var controllers: [ControllerCase] = []

    /// ObjectiveOptions with snake_case keys, as config.json's "objective" (no `clip` when off).
    func write(to url: URL) throws {
        let enc = JSONEncoder()
        enc.keyEncodingStrategy = .convertToSnakeCase
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try enc.encode(self).write(to: url)
    }

    static func output(_ o: ObjectiveOutput) -> Output {
        Output(loss: o.loss, grad_logp: o.gradLogP, grad_sample_logp: o.gradSampleLogP, weights: o.weights,
               sample_weights: o.sampleWeights, clipped_share: o.clippedShare)
    }

    static func optionSets() -> [(String, ObjectiveOptions)] {
        [("paper", .paper), ("default", LabConfig.defaultObjective),
         ("horvitz-thompson", ObjectiveOptions(normalization: .horvitzThompson)),
         ("hajek-clip", ObjectiveOptions(clip: 0.2)), ("ht-clip-eps", ObjectiveOptions(normalization: .horvitzThompson, clip: 0.1)),
         ("htClip", ObjectiveOptions(anchor: 1, htClip: 3)),
         ("tokens", ObjectiveOptions(entropyBonus: 0.01, klToFT: 0.2, anchor: 0.5)),
         ("kl-target", ObjectiveOptions(klTarget: 2, klSamples: 4, anchor: 1))]
    }

    static func make() -> ParityCases {
        var cases = ParityCases()
        var rng = SeededRandom(seed: 12)
        func normal() -> Double { rng.gaussian() }
        // (spread of the log-ratios, outcome shift): moderate and extreme weights, and outcomes
        // below zero (htOrigin).
        let shapes: [(Double, Double)] = [(0.5, 50), (8, 0.5), (0.3, -3)]
        for (s, (spread, shift)) in shapes.enumerated() {
            let n = 7 + s, m = n
            let logp = (0..<n).map { _ in -40 + 10 * normal() }
            let logpr = logp.map { $0 + spread * normal() }
            let y = (0..<n).map { _ in shift + normal() }
            let ghat = y.map { $0 + 0.5 * normal() }
            let sampleLogP0 = (0..<m).map { _ in -35 + 8 * normal() }
            let sampleLogP = sampleLogP0.map { $0 + spread * normal() }
            let sampleGhat = (0..<m).map { _ in shift + normal() }
            let logPFT = logp.map { $0 + 0.2 * normal() }
            let mean = y.reduce(0, +) / Double(n)
            let sd = (y.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)).squareRoot()
            let selected = Objectives.topQuantileSelection(outcomes: y, quantile: 0.25)
            let tokens = (0..<n).map { _ in 5 + rng.int(below: 30) }, sampleTokens = (0..<m).map { _ in 5 + rng.int(below: 30) }
            for (label, options) in optionSets() {
                for method in Method.allCases {
                    let batch = ObjectiveBatch(
                        logP: logp, logPR: logpr, outcomes: y, ghat: ghat, sampleLogP: sampleLogP, sampleLogP0: sampleLogP0,
                        sampleGhat: sampleGhat, logPFT: logPFT, selected: selected, outcomeSD: sd,
                        outcomeMinimum: y.min() ?? 0, pairs: Objectives.outcomeRankedPairs(outcomes: y))
                    let out = Objectives.evaluate(method, batch, options: options)
                    cases.objectives.append(ObjectiveCase(
                        name: "\(method.rawValue)/\(label)/shape\(s)", method: method.rawValue, options: options,
                        batch: Batch(logp: logp, logpr: logpr, outcomes: y, ghat: ghat, sample_logp: sampleLogP,
                                     sample_logp0: sampleLogP0, sample_ghat: sampleGhat, logp_ft: logPFT, selected: selected,
                                     outcome_sd: sd, outcome_minimum: y.min() ?? 0),
                        expected: output(out)))
                }
                for method in Method.allCases where method.spec.policyGradient {
                    let klSums = tokens.map { Double($0) * 0.01 * (1 + abs(normal())) }
                    let sampleKL = sampleTokens.map { Double($0) * 0.01 * (1 + abs(normal())) }
                    let ent = tokens.map { Double($0) * 2 }, sampleEnt = sampleTokens.map { Double($0) * 2.5 }
                    let own = options.klTarget > 0 ? (0..<options.klSamples).map { _ in 3 + abs(normal()) } : nil
                    cases.steps.append(step(method, "\(method.rawValue)/\(label)/shape\(s)", options, logp: logp, logpr: logpr,
                                            y: y, ghat: ghat, tokens: tokens, kl: klSums, ent: ent, sampleLogP: sampleLogP,
                                            sampleLogP0: sampleLogP0, sampleGhat: sampleGhat, sampleTokens: sampleTokens,
                                            sampleKL: sampleKL, sampleEnt: sampleEnt, sd: sd, own: own))
                }
            }
            let a = Objectives.anchor(logP: logp, tokenCounts: tokens, weight: 1.5 * sd)
            cases.anchors.append(AnchorCase(logp: logp, tokens: tokens, weight: 1.5 * sd, loss: a.loss, grad: a.grad))
            let kls = (0..<(s + 2)).map { _ in abs(normal()) * 5 }
            let k = Objectives.sampledKL(klSums: kls, coefficient: 0.3 * sd)
            cases.sampled_kl.append(KLCase(kl_sums: kls, beta: 0.3 * sd, loss: k.loss, grad_kl: k.gradKL, grad_logp: k.gradLogP))
            let t = Objectives.tokenTermCoefficients(tokenCounts: tokens + [0], options: ObjectiveOptions(entropyBonus: 0.03, klToFT: 0.4))
            cases.token_terms.append(TokenCase(tokens: tokens + [0], kl_to_ft: 0.4, entropy_bonus: 0.03, kl: t.kl, entropy: t.entropy))
        }
        var controller = AdaptiveKLController(target: 2, horizon: 10, coefficient: 0.1, bounds: AdaptiveKLController.bounds(around: 0.1))
        let measured = [0, 0.5, 1.9, 2.5, 7, 7, .nan, 1.0] + [Double](repeating: 0, count: 200)
        var betas: [Double] = []
        for kl in measured {
            controller.update(measuredKL: kl)
            betas.append(controller.coefficient)
        }
        cases.controllers.append(ControllerCase(target: 2, horizon: 10, initial: 0.1, kls: measured, coefficients: betas))
        return cases
    }

    /// The step as MethodRun.trainStep assembles it (its private composition, restated for the test).
    static func step(_ method: Method, _ name: String, _ options: ObjectiveOptions, logp: [Double], logpr: [Double], y: [Double],
                     ghat: [Double], tokens: [Int], kl: [Double], ent: [Double], sampleLogP: [Double], sampleLogP0: [Double],
                     sampleGhat: [Double], sampleTokens: [Int], sampleKL: [Double], sampleEnt: [Double], sd: Double,
                     own: [Double]?) -> StepCase {
        let spec = method.spec
        let forwarded = spec.readsRows || options.anchor > 0
        let nr = forwarded ? logp.count : 0
        let m = spec.f0Samples ? sampleLogP.count : 0
        let rows = 0..<nr, samples = 0..<m
        let batch = ObjectiveBatch(
            logP: spec.readsRows ? logp : [], logPR: spec.readsRows ? logpr : [], outcomes: spec.readsRows ? y : [],
            ghat: spec.readsRows ? ghat : [], sampleLogP: Array(sampleLogP[samples]), sampleLogP0: Array(sampleLogP0[samples]),
            sampleGhat: Array(sampleGhat[samples]), outcomeSD: sd, outcomeMinimum: y.min() ?? 0)
        let out = Objectives.evaluate(method, batch, options: options)
        var coef = (spec.readsRows ? out.gradLogP : [Double](repeating: 0, count: nr)) + out.gradSampleLogP
        let allTokens = Array(tokens[rows]) + Array(sampleTokens[samples])
        let allKL = Array(kl[rows]) + Array(sampleKL[samples]), allEnt = Array(ent[rows]) + Array(sampleEnt[samples])
        let objectiveSeqs = (spec.readsRows ? 0 : nr)..<allTokens.count
        let token = Objectives.tokenTermCoefficients(tokenCounts: Array(allTokens[objectiveSeqs]), options: options)
        let pad = [Double](repeating: 0, count: objectiveSeqs.lowerBound)
        let klCoef = pad + token.kl, entCoef = pad + token.entropy
        var loss = out.loss
        if options.klToFT > 0 { loss += zip(klCoef, allKL).reduce(0) { $0 + $1.0 * $1.1 } }
        if options.entropyBonus > 0 { loss += zip(entCoef, allEnt).reduce(0) { $0 + $1.0 * $1.1 } }
        if options.anchor > 0 && nr > 0 {
            let a = Objectives.anchor(logP: Array(logp[rows]), tokenCounts: Array(tokens[rows]), weight: options.anchor * sd)
            loss += a.loss
            for i in rows { coef[i] += a.grad[i] }
        }
        var ownLogP: [Double] = [], ownKL: [Double] = []
        let beta = own != nil ? options.klInitialCoefficient : nil
        if let own, let beta {
            let term = Objectives.sampledKL(klSums: own, coefficient: beta * sd)
            loss += term.loss
            ownLogP = term.gradLogP
            ownKL = term.gradKL
        }
        return StepCase(
            name: name, method: method.rawValue, options: options, rows_logp: Array(logp[rows]),
            rows_logpr: Array(logpr[rows]), rows_outcomes: Array(y[rows]), rows_ghat: Array(ghat[rows]),
            rows_klsum: Array(kl[rows]), rows_entropy: Array(ent[rows]), rows_tokens: Array(tokens[rows]),
            samples_logp: Array(sampleLogP[samples]), samples_logp0: Array(sampleLogP0[samples]),
            samples_ghat: Array(sampleGhat[samples]), samples_klsum: Array(sampleKL[samples]),
            samples_entropy: Array(sampleEnt[samples]), samples_tokens: Array(sampleTokens[samples]), outcome_sd: sd,
            outcome_minimum: y.min() ?? 0, own_kl: own, kl_beta: beta, loss: loss, coef_logp: coef, coef_kl: klCoef,
            coef_entropy: entCoef, own_coef_logp: ownLogP, own_coef_kl: ownKL)
    }
}

// MARK: - ĝ parity

/// A ridge and a logistic ĝ fitted in Swift, written as ghat.json is (`PortableOutcomeModel`), with
/// Swift's words, features and predictions of awkward texts, and the featurizer's Unicode rules
/// (which scalars are word characters, how each lower-cases), for test_parity.py.
enum GhatParity {
    static let awkwardTexts = [
        "Don't stop: it's a well-known, state-of-the-art result!", "rock ’n’ roll — l’été d’Émile", "x--y a- -b 'quoted' ‐dash‑ co‐op",
        "Café crème, naïve façade; Ærøskøbing", "ΣΑΣ Οδυσσεύς", "İstanbul STRASSE straße ǅemal", "½ ² ٣٤ Ⅻ 10,000.5", "Ⓐ ⓑ 🙂👍🏽 e\u{301}",
        "日本語のテキスト 한국어", "tabs\tand\nnew lines\r\n", "", "   ", "a", "A b c d e f g", "O'Neil's O’Brien's", "well--known 'tis",
    ]

    struct Text: Codable {
        var text: String; var words: [String]; var indices: [Int]; var values: [Double]; var ridge, logistic: Double
    }
    struct Tables: Codable {
        var word_ranges: [[UInt32]]
        var lowercase: [String: String]
        var texts: [Text]
    }

    static func write(to dir: URL) throws {
        let world = try World.load(path: try ShippedWorlds.resolve(ShippedWorlds.defaultName))
        let rows = WorldDatasets.dataset(world: world, samples: world.sample(rows: 120, design: .randomized, seed: 5),
                                         source: "test").rows
        let texts = rows.map(\.text) + awkwardTexts
        let y = rows.map(\.outcome) + awkwardTexts.indices.map { Double($0 % 3) }
        let median = y.sorted()[y.count / 2]
        let featurizer = TextFeaturizer(FeatureConfig(dimension: 4099, bigrams: true, signHashing: true, normalization: .log1p))
        let ridge = try CrossFittedOutcomeModel.fit(texts: texts, outcomes: y, kind: .ridge, folds: 3, seed: 1,
                                                    featurizer: featurizer)
        let logistic = try CrossFittedOutcomeModel.fit(texts: texts, outcomes: y.map { $0 > median ? 1 : 0 }, kind: .logistic,
                                                       folds: 3, seed: 2)
        let enc = JSONEncoder()
        try enc.encode(PortableOutcomeModel(ridge)).write(to: dir.appendingPathComponent("ridge.json"))
        try enc.encode(PortableOutcomeModel(logistic)).write(to: dir.appendingPathComponent("logistic.json"))

        var ranges: [[UInt32]] = []
        var lower: [String: String] = [:]
        for v in UInt32(0)...0x10FFFF {
            guard let s = Unicode.Scalar(v) else { continue }
            if TextFeaturizer.isWordScalar(s) {
                if let last = ranges.last, last[1] + 1 == v { ranges[ranges.count - 1][1] = v } else { ranges.append([v, v]) }
            }
            let str = String(s)
            let l = str.lowercased()
            if l != str { lower[String(v)] = l }
        }
        let shown = texts.suffix(awkwardTexts.count + 10)
        let tables = Tables(word_ranges: ranges, lowercase: lower, texts: shown.map { t in
            let x = featurizer.features(t)
            return Text(text: t, words: TextFeaturizer.words(t), indices: x.indices, values: x.values,
                        ridge: ridge.predict([t])[0], logistic: logistic.predict([t])[0])
        })
        try enc.encode(tables).write(to: dir.appendingPathComponent("texts.json"))
    }
}

// MARK: - The export

/// `cpo-tui export` of the default world, small: 48 training, 16 validation and 24 held-out
/// rows, batches of 12, one f0 sample per row.
enum TestExport {
    /// The same export by the command line.
    static let arguments = ["--world", ShippedWorlds.defaultName, "--rows", "48", "--eval-rows", "24", "--validation-rows", "16",
                            "--epochs", "1", "--batch-size", "12", "--f0-ratio", "1", "--folds", "3", "--lr", "1e-3", "--seed", "0"]

    static func write(to dir: URL) throws {
        var config = LabConfig(rows: 48, evalRows: 24, validationRows: 16, epochs: 1, batchSize: 12, f0Ratio: 1, folds: 3)
        config.learningRate = 1e-3
        let export = try Export.prepare(config: config, seed: 0, source: ExportSource(kind: .world, name: ShippedWorlds.defaultName))
        let trainer = try Data(contentsOf: PythonBridge.trainer)
        try Export.write(try export.files(trainer: [UInt8](trainer)), to: dir.path, force: true)
    }
}
