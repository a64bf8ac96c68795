import Foundation
import OutcomeData
import Testing
import CausalPO
import Dashboard
import Lab

/// A fixed snapshot with every panel populated: three methods, two epochs, a world.
enum Fixture {
    static func estimate(_ v: Double, _ se: Double) -> Estimate { Estimate(value: v, standardError: se) }

    static func metrics(_ m: Method, epoch: Int, shift: Double) -> EpochMetrics {
        let lr = (0..<200).map { sin(Double($0) * 0.7) * (0.2 + shift) }
        return EpochMetrics(
            method: m, epoch: epoch, trainLoss: epoch == 0 ? nil : -55 - shift * 3,
            estimates: Estimates([.ipw: estimate(54 + shift, 1.5), .snipw: estimate(54.2 + shift, 1.4), .dr: estimate(54.5 + shift, 0.8),
                                  .out: estimate(54.1 + shift, 0.2), .drResidual: estimate(0.4 - shift, 0.7)]),
            trueValue: estimate(53.4 + 2 * shift, 0.35),
            normalizedGain: shift / 4, invalidRate: 0.07 + shift / 20,
            attributeShares: ["urgency": 0.3, "guilt": 0.3 - shift / 10], winRateVsFT: estimate(0.5 + shift / 10, 0.03),
            klToFT: estimate(shift / 2, 0.01),
            weights: Diagnostics.weightSummary(logP: lr, logPR: lr.map { _ in 0 }, batchSize: 32),
            samples: [
                GeneratedText(text: "Forty of your neighbors have already signed up. Bring the kids; they love hunting for treasure.",
                              score: 59, attributes: ["neighbors", "children"], invalidSegments: [], logRatioToFT: shift),
                GeneratedText(text: "Staying home is a nature walk.", score: 45, attributes: [], invalidSegments: ["staying home is a nature walk"],
                              logRatioToFT: -0.5),
            ],
            seconds: 1.5, sensitivity: sensitivity(shift: shift))
    }

    /// Held-out rows for the sensitivity analysis: outcomes around 54, P^R a little uneven, and
    /// f tilted toward the rows with higher outcomes by `shift` (0: FT itself); ĝ shrinks the
    /// outcomes toward 54 by 60%, and the f0 samples are tilted alike.
    static func sensitivityInputs(shift: Double) -> EstimatorInputs {
        let outcomes: [Double] = (0..<200).map { (i: Int) -> Double in
            let wave: Double = 6 * sin(Double(i) * 0.37)
            return 52 + wave + Double(i % 5)
        }
        let logPR: [Double] = (0..<200).map { (i: Int) -> Double in -30 - 0.2 * Double(i % 7) }
        let ghat: [Double] = outcomes.map { (y: Double) -> Double in 54 + 0.4 * (y - 54) }
        let sampleGhat: [Double] = (0..<100).map { (j: Int) -> Double in 54 + 5 * sin(Double(j) * 0.91) }
        let tilt: (Double) -> Double = { (y: Double) -> Double in shift * (y - 54) / 12 }
        return EstimatorInputs(
            logP: zip(logPR, outcomes).map { $0 + tilt($1) }, logPR: logPR, outcomes: outcomes, ghat: ghat,
            sampleLogP: sampleGhat.map(tilt), sampleLogP0: sampleGhat.map { _ in 0 }, sampleGhat: sampleGhat,
            normalization: .hajek)
    }

    /// What an evaluation carries (`Experiment.evaluate`): V_SNIPW's and V_DR's analysis against
    /// FT's value (FT's rows are those of shift 0), computed by `Sensitivity.analyze`.
    static func sensitivity(shift: Double) -> [SensitivityAnalysis] {
        Sensitivity.estimators.compactMap { e in
            Sensitivity.analyze(sensitivityInputs(shift: shift), estimator: e,
                                reference: Sensitivity.problem(sensitivityInputs(shift: 0), estimator: e)?.point, seed: 7)
        }
    }

    static func method(_ m: Method, epochs: Int, shift: Double, state: MethodState = .idle, steps count: Int = 40,
                       skipped: Int = 0) -> MethodSnapshot {
        let steps = (0..<count).map { i in
            StepRecord(step: i + 1, epoch: 1 + i / 20, loss: -54 - shift * Double(i) / 10 - sin(Double(i)) , batchESSFraction: 0.8,
                       clippedShare: 0, gradNorm: 1, skipped: false)
        }
        return MethodSnapshot(method: m, state: state, epoch: epochs, steps: m == .ft ? [] : steps,
                              epochs: (0...epochs).map { metrics(m, epoch: $0, shift: Double($0) * shift) },
                              skippedSteps: skipped, lastEpochLogWeights: [])
    }

    /// 14:02:31 UTC on 2026-03-14 (the tests draw clock times in UTC).
    static let saveTime = Date(timeIntervalSince1970: 1_773_496_951)
    static let utc = TimeZone(identifier: "UTC")!

    /// The first training rows: attributes urgency, guilt, festivity (never present, so its
    /// correlations are NaN), a ±1 reader trait, outcomes around 52.
    static let preview: [OutcomeRow] = [
        ("Join us on Saturday to clean the river bank.", 52, 1, [0, 0, 0]),
        ("Only 40 spots left: sign up today!", 57, -1, [1, 0, 0]),
        ("Staying home is a choice you make for the river.", 47, 1, [0, 1, 0]),
        ("Last chance: the river needs you this weekend. Bring gloves.", 58, 1, [1, 0, 0]),
        ("The town council asks every resident to take part. There is a nature quiz for the little ones, and we finish with a picnic on the green by the old mill.", 53, -1, [0, 0, 0]),
        ("Every bag of litter you leave is on you.", 45, -1, [0, 1, 0]),
        ("Spots are filling fast; the river cannot wait and neither can we.", 56, -1, [1, 1, 0]),
        ("Bring a friend.", 51, 1, [0, 0, 0]),
        ("Register before Friday noon.", 55, 1, [1, 0, 0]),
        ("If you skip it, the river pays.", 49, -1, [0, 1, 0]),
        ("Gloves and grabbers provided.", 50, 1, [0, 0, 0]),
        ("Act now: the clean-up starts in two days.", 59, -1, [1, 0, 0]),
    ].enumerated().map { i, r in
        OutcomeRow(text: r.0, outcome: r.1, logPropensity: -30 - Double(i), trait: r.2, attributes: r.3)
    }

    static let correlations = DataCorrelations(
        attributeNames: ["urgency", "guilt", "festivity"], attributeOutcome: [0.42, -0.27, .nan],
        attributeTrait: [0.05, 0.61, .nan], traitOutcome: -0.18)

    static let snapshot: LabSnapshot = {
        var cfg = LabConfig()
        cfg.methods = [.ft, .cpo, .drCPO, .dpo]
        let outcomes: [Double] = (0..<400).map { (i: Int) -> Double in
            let wave: Double = 12 * sin(Double(i) * 0.37)
            return 50 + wave + Double(i % 7)
        }
        let effects = [("urgency", 4.8, 2.2, 4.0, 0.04), ("guilt", 11.8, 6.1, -3.0, 0.9), ("festivity", -4.8, -1.0, 2.0, -0.5)]
        return LabSnapshot(
            config: cfg, seed: 0, phase: .idle, version: 7,
            messages: ["FT epoch 6: train loss 0.223", "ready", "DPO failed in epoch 1: the loss is NaN at step 12; lower --lr"],
            sourceLabel: "world:river-cleanup", trainRows: 2000, evalRows: 500, worldName: "river-cleanup",
            attributeNames: effects.map(\.0), vStar: 63,
            ghatQuality: OutcomeModelQuality(metric: .r2, value: 0.034), ghatQualityVersusOutcomes: nil,
            attributeEffects: effects.enumerated().map { i, e in
                AttributeEffect(attribute: i, naive: estimate(e.1, 0.5), learned: estimate(e.2, 0.1), truth: e.3)
            },
            traitImbalance: effects.map(\.4),
            ftHistory: (1...6).map { FTEpoch(epoch: $0, trainLoss: 1 / Double($0), evalLoss: 1.1 / Double($0), seconds: 2) },
            trainOutcomes: outcomes,
            outcomeKind: .continuous,
            split: .init(seed: 0, evalFraction: 0.2, trainCount: 2000, evalCount: 500, fromColumn: false),
            dataPreview: preview,
            dataCorrelations: correlations,
            runDirectory: "runs/river-cleanup-seed0",
            lastSave: SaveStatus(succeeded: true, message: "saved after DR-CPO epoch 2 (0.12 s)", time: saveTime),
            methods: [method(.ft, epochs: 0, shift: 0), method(.cpo, epochs: 2, shift: 0.5, skipped: 3),
                      method(.drCPO, epochs: 2, shift: 0.6),
                      method(.dpo, epochs: 0, shift: 0.2, state: .failed("the loss is NaN at step 12"), steps: 12)],
            generations: [:])
    }()

    /// The same, after a save that failed (which the session also logs).
    static let saveFailed: LabSnapshot = {
        var s = snapshot
        let message = "cannot write runs/river-cleanup-seed0/CPO/epoch-2.ckpt: No space left on device; "
            + "free some space (the previous save is intact), then press w"
        s.lastSave = SaveStatus(succeeded: false, message: message, time: saveTime)
        s.messages.append("save failed: " + message)
        return s
    }()
}

/// Every view rendered as text and compared with a golden file in Golden/. To (re)record after
/// an intended change: CPO_RECORD_SNAPSHOTS=1 swift test --filter ViewSnapshotTests, then read
/// the diff of Golden/ before committing it.
@Suite("dashboard views as text")
struct ViewSnapshotTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let recording = ProcessInfo.processInfo.environment["CPO_RECORD_SNAPSHOTS"] == "1"

    func check(_ name: String, _ buffer: CellBuffer) throws {
        let text = buffer.plainText()
        let url = Self.golden.appendingPathComponent(name + ".txt")
        if Self.recording {
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "\(name) differs from Golden/\(name).txt:\n\(text)")
    }

    static let sizes = [(120, 40), (80, 24)]

    /// A view state drawing clock times in UTC, so goldens do not depend on the machine.
    static func state(_ kind: ViewKind = .dashboard) -> ViewState {
        var v = ViewState()
        v.view = kind
        v.timeZone = Fixture.utc
        return v
    }

    /// Characters ASCII mode must not draw: arrows, box drawing, block elements, braille, ⚠
    /// (the letters of the notation, like ĝ and Σ, stay).
    static func drawingCharacters(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.filter { (0x2190...0x21FF).contains($0.value)
                || (0x2500...0x259F).contains($0.value) || (0x2800...0x28FF).contains($0.value) || $0 == "⚠" }))
    }

    @Test(arguments: [ViewKind.dashboard, .compare, .data])
    func viewsAtBothSizes(_ kind: ViewKind) throws {
        for (w, h) in Self.sizes {
            var v = Self.state(kind)
            v.selectedMethod = 1
            try check("\(kind.rawValue)-\(w)x\(h)", DashboardView.render(Fixture.snapshot, v, width: w, height: h))
        }
    }

    @Test func helpOverlayZoomASCIIAndTooSmall() throws {
        var v = Self.state()
        v.showHelp = true
        try check("help-120x40", DashboardView.render(Fixture.snapshot, v, width: 120, height: 40))
        v.showHelp = false
        v.zoomed = true
        v.focus = .loss
        try check("zoomed-loss-80x24", DashboardView.render(Fixture.snapshot, v, width: 80, height: 24))
        v.zoomed = false
        v.glyphs = .ascii
        let ascii = DashboardView.render(Fixture.snapshot, v, width: 120, height: 40)
        try check("dashboard-ascii-120x40", ascii)
        // ASCII mode is for terminals or fonts without box drawing, block elements and braille.
        let drawing = Self.drawingCharacters(ascii.plainText())
        #expect(drawing.isEmpty, "ASCII mode drew \(drawing)")
        let small = DashboardView.render(Fixture.snapshot, ViewState(), width: 60, height: 20).plainText()
        #expect(small.contains("terminal too small (60x20)") && small.contains("80x24"))
    }

    /// The data view's rows list, correlation bars and save state in ASCII, at both sizes.
    @Test func dataViewInASCII() throws {
        var v = Self.state(.data)
        v.glyphs = .ascii
        for (w, h) in Self.sizes {
            let b = DashboardView.render(Fixture.saveFailed, v, width: w, height: h)
            if w == 120 { try check("data-ascii-120x40", b) }
            let text = b.plainText()
            let drawing = Self.drawingCharacters(text)
            #expect(drawing.isEmpty, "ASCII mode drew \(drawing) at \(w)x\(h)")
            #expect(text.contains("SAVE FAILED") && text.contains("Training rows 1-") && text.contains("Correlations"))
            #expect(text.contains("~"), "cut texts end in ~ in ASCII at \(w)x\(h)")
        }
    }

    /// Estimates whose held-out weights collapsed (ESS below 5% of the rows) carry a `!` in the
    /// Methods panel and the compare view; the others, and the goldens (ESS 58-98%), none. A
    /// judge that cannot tell texts apart leaves the win-rate column empty.
    @Test func unreliableEstimatesAreMarked() throws {
        var s = Fixture.snapshot
        let n = 200
        let cpo = try #require(s.methods.firstIndex { $0.method == .cpo })
        s.methods[cpo].epochs[s.methods[cpo].epochs.count - 1].weights = Diagnostics.weightSummary(
            logP: [0] + [Double](repeating: -40, count: n - 1), logPR: [Double](repeating: 0, count: n), batchSize: 32)
        let compare = DashboardView.render(s, Self.state(.compare), width: 120, height: 40).plainText().split(separator: "\n")
        let cpoRow = try #require(compare.first { $0.contains("│CPO ") })
        #expect(cpoRow.contains("55.50±1.57!") && cpoRow.contains("55.00±2.94!") && cpoRow.contains("55.20±2.74!"), "\(cpoRow)")
        #expect(cpoRow.contains("55.10±0.39 "), "V_OUT does not weight the rows: \(cpoRow)")
        #expect(!(try #require(compare.first { $0.contains("│DR-CPO ") })).contains("!"))
        let dashboard = DashboardView.render(s, Self.state(), width: 120, height: 40).plainText()
        #expect(dashboard.contains("55.50±1.57!"))
        // A user-data judge that cannot tell texts apart: the compare view shows no win rates.
        #expect(compare.contains { $0.contains("0.60±0.06") })
        s.judge = JudgeAssessment(quality: OutcomeModelQuality(metric: .r2, value: -0.01), pValue: 0.4, permutations: 99,
                                  rows: 400, neighbors: 80)
        let blind = DashboardView.render(s, Self.state(.compare), width: 120, height: 40).plainText()
        #expect(!blind.contains("0.60±0.06") && !blind.contains("0.62±0.06"))
    }

    /// A failed save: SAVE FAILED in the header in the theme's bad style, in every view, and the
    /// full message in the data view's messages.
    @Test func failedSave() throws {
        try check("data-save-failed-120x40", DashboardView.render(Fixture.saveFailed, Self.state(.data), width: 120, height: 40))
        try check("dashboard-save-failed-80x24", DashboardView.render(Fixture.saveFailed, Self.state(), width: 80, height: 24))
        for kind in ViewKind.allCases {
            for (w, h) in Self.sizes {
                var v = Self.state(kind)
                v.theme = .light
                let b = DashboardView.render(Fixture.saveFailed, v, width: w, height: h)
                let header = b.line(0)
                guard let range = header.range(of: "SAVE FAILED") else {
                    Issue.record("no SAVE FAILED in the \(kind) header at \(w)x\(h): \(header)")
                    continue
                }
                let x = header.distance(from: header.startIndex, to: range.lowerBound)
                #expect((x..<(x + 11)).allSatisfy { b[$0, 0].style == v.theme.bad })
                #expect(!header.contains("saved"))
            }
        }
        // In the messages once (not again as the session's log line), and the log still shows.
        let data = DashboardView.render(Fixture.saveFailed, Self.state(.data), width: 120, height: 40).plainText()
        #expect(data.components(separatedBy: "No space left").count == 2 && data.contains("DPO failed in epoch 1"), "\(data)")
    }

    /// The header: the run directory and the last save, in the view's time zone; nothing
    /// without a run directory; the directory gives way before the hints, the hints and the
    /// names before the save state, which always shows.
    @Test func headerSaveState() {
        let roomy = DashboardView.render(Fixture.snapshot, Self.state(.data), width: 160, height: 40).line(0)
        #expect(roomy.hasSuffix(" | data › Training rows | ready — 2: compare, 1: dashboard, n: next epoch"
                                + String(repeating: " ", count: 7) + "runs/river-cleanup-seed0  saved 14:02:31 "),
                "\(roomy)")
        let wide = DashboardView.render(Fixture.snapshot, Self.state(.data), width: 120, height: 40).line(0)
        #expect(wide == " cpo-tui | world:river-cleanup | seed 0 | data › Training rows | ready — 2: compare, 1: dashboard"
                + String(repeating: " ", count: 8) + "saved 14:02:31 ", "\(wide)")
        var v = Self.state(.data)
        v.timeZone = TimeZone(secondsFromGMT: -5 * 3600)!
        let narrow = DashboardView.render(Fixture.snapshot, v, width: 80, height: 24).line(0)
        #expect(narrow == " cpo-tui | river-cleanup | Training rows | ready — 2: compare    saved 09:02:31 ", "\(narrow)")
        // Less room: the directory is cut from the left before it goes.
        let middle = DashboardView.render(Fixture.snapshot, Self.state(.compare), width: 120, height: 30).line(0)
        #expect(middle.hasSuffix(" | compare | ready — 1: dashboard, n: next epoch  …cleanup-seed0  saved 14:02:31 "), "\(middle)")
        // Progress keeps its message, and the directory gives way.
        var preparing = Fixture.snapshot
        preparing.phase = .preparing(stage: .ft, fraction: 0.4, message: "FT step 50, loss 0.9")
        let p = DashboardView.render(preparing, Self.state(), width: 120, height: 40).line(0)
        #expect(p.contains("preparing: ft 40% — FT step 50, loss 0.9") && p.hasSuffix("  saved 14:02:31 "), "\(p)")
        var unsaved = Fixture.snapshot
        unsaved.runDirectory = nil
        let none = DashboardView.render(unsaved, Self.state(), width: 120, height: 40).line(0)
        #expect(!none.contains("saved") && !none.contains("runs/") && none.contains("ready — c: learning curves"), "\(none)")
        unsaved.runDirectory = "runs/x"
        unsaved.lastSave = nil
        let notYet = DashboardView.render(unsaved, Self.state(.data), width: 130, height: 40).line(0)
        #expect(notYet.contains("ready — 2: compare, 1: dashboard, n: next epoch ") && notYet.hasSuffix("  runs/x "), "\(notYet)")
    }

    /// Skipped steps and a failed method in the Methods panel, in the warning and bad styles.
    @Test func methodsPanelShowsSkipsAndFailures() {
        var v = Self.state()
        v.selectedMethod = 0   // FT: neither row is highlighted
        let b = DashboardView.render(Fixture.snapshot, v, width: 120, height: 40)
        let lines = (0..<b.height).map(b.line)
        let cpo = lines.first { $0.contains("│CPO ") }, dpo = lines.first { $0.contains("│DPO ") }
        #expect(cpo?.contains("idle  skip 3") == true, "\(cpo ?? "no CPO row")")
        #expect(dpo?.contains("FAILED") == true, "\(dpo ?? "no DPO row")")
        for (line, word, style) in [(cpo, "skip 3", v.theme.warning), (dpo, "FAILED", v.theme.bad)] {
            guard let line, let y = lines.firstIndex(of: line), let r = line.range(of: word) else { continue }
            #expect(b[line.distance(from: line.startIndex, to: r.lowerBound), y].style == style)
        }
    }

    /// The data view before the data is loaded, and for data without a trait or attributes.
    @Test func dataViewWithLittleData() {
        var empty = Fixture.snapshot
        empty.phase = .preparing(stage: .data, fraction: 0, message: "starting")
        empty.dataPreview = []
        empty.dataCorrelations = nil
        empty.trainOutcomes = []
        empty.attributeEffects = []
        empty.messages = []
        empty.lastSave = nil
        for (w, h) in Self.sizes {
            let text = DashboardView.render(empty, Self.state(.data), width: w, height: h).plainText()
            #expect(text.contains("no data yet") && text.contains("Training rows"), "\(text)")
        }
        var noTrait = Fixture.snapshot
        noTrait.dataPreview = noTrait.dataPreview.map { var r = $0; r.trait = nil; return r }
        noTrait.dataCorrelations?.attributeTrait = nil
        noTrait.dataCorrelations?.traitOutcome = nil
        for (w, h) in Self.sizes {
            let b = DashboardView.render(noTrait, Self.state(.data), width: w, height: h)
            let text = b.plainText()
            #expect(!text.contains("with trait") && text.contains("with outcome") && text.contains("trait–outcome      —"), "\(text)")
            #expect(!(0..<b.height).map(b.line).contains { $0.contains("outcome  trait") })
        }
        // Many attributes: the rows list names the present ones instead of a column each.
        var many = Fixture.snapshot
        let names = (1...14).map { "attribute\($0)" }
        many.attributeNames = names
        many.dataPreview = many.dataPreview.map { var r = $0; r.attributes = names.indices.map { Double($0 % 3 == 0 ? 1 : 0) }; return r }
        many.dataCorrelations = DataCorrelations(attributeNames: names, attributeOutcome: names.map { _ in 0.1 },
                                                 attributeTrait: names.map { _ in -0.1 }, traitOutcome: 0)
        let text = DashboardView.render(many, Self.state(.data), width: 80, height: 24).plainText()
        #expect(text.contains("attributes") && text.contains("a1,a4"), "\(text)")
    }

    /// A world with seven attributes (as river-cleanup): all correlations at 120x40; at 80x24
    /// as many as fit, the title saying how many, the trait's line kept.
    @Test func correlationsThatDoNotFit() {
        var w = Fixture.snapshot
        let names = ["urgency", "neighbors", "guilt", "festivity", "numbers", "council", "children"]
        w.attributeNames = names
        w.attributeEffects = names.indices.map {
            AttributeEffect(attribute: $0, naive: Fixture.estimate(1, 0.5), learned: Fixture.estimate(0.5, 0.1), truth: 1)
        }
        w.traitImbalance = names.map { _ in 0.01 }
        w.dataPreview = w.dataPreview.map { var r = $0; r.attributes = names.indices.map { Double(($0 + r.text.count) % 2) }; return r }
        w.dataCorrelations = DataCorrelations(attributeNames: names, attributeOutcome: names.indices.map { Double($0) / 7 - 0.4 },
                                              attributeTrait: names.map { _ in 0.1 }, traitOutcome: 0.2)
        let wide = DashboardView.render(w, Self.state(.data), width: 120, height: 40).plainText()
        #expect(wide.contains("Correlations (Pearson r") && wide.contains("│children       +0.46") && wide.contains("│trait–outcome  +0.20"))
        #expect(wide.contains("urg  nei  gui  fes  num  cou  chi  text"))
        let narrow = DashboardView.render(w, Self.state(.data), width: 80, height: 24).plainText()
        #expect(narrow.contains("4 of 7 shown") && narrow.contains("│festivity") && !narrow.contains("│numbers")
                && narrow.contains("│trait–outcome  +0.20"), "\(narrow)")
    }

    @Test func focusIsVisibleAndPreparationShowsProgress() {
        var v = Self.state()
        v.focus = .weights
        let b = DashboardView.render(Fixture.snapshot, v, width: 120, height: 40)
        // The focused panel's border uses the focused style, the others the plain border.
        let weightsTop = (1..<b.height).first { y in b.line(y).contains("Weights") }!
        let x = b.line(weightsTop).firstIndex(of: "╭").map { b.line(weightsTop).distance(from: b.line(weightsTop).startIndex, to: $0) }!
        #expect(b[x, weightsTop].style == v.theme.focusedBorder)
        #expect(b[0, 1].style == v.theme.border)
        var preparing = Fixture.snapshot
        preparing.phase = .preparing(stage: .ft, fraction: 0.4, message: "FT step 50, loss 0.9")
        let p = DashboardView.render(preparing, Self.state(), width: 120, height: 40).plainText()
        #expect(p.contains("preparing: ft 40%") && p.contains("FT step 50"))
    }
}

@Suite("signed bars")
struct SignedBarTests {
    func draw(_ value: Double, width: Int = 9, glyphs: Glyphs = .unicode) -> String {
        var b = CellBuffer(width: width, height: 1)
        Widgets.signedBar(value: value, scale: 1, in: b.bounds, buffer: &b, style: Style(), axisStyle: Style(), glyphs: glyphs)
        return b.line(0)
    }

    @Test func growsFromTheMiddleAlikeOnBothSides() {
        #expect(draw(0) == "    │    ")
        #expect(draw(0.5) == "    │██  ")
        #expect(draw(-0.5) == "  ██│    ")
        #expect(draw(-0.375) == "  ▐█│    ")
        #expect(draw(0.375) == "    │█▌  ")
        #expect(draw(0.05) == "    │▏   ")
        #expect(draw(-0.05) == "   ▕│    ")
        #expect(draw(3) == "    │████")
        #expect(draw(-3) == "████│    ")
        #expect(draw(.nan) == "    │    ")
        #expect(draw(0.5, width: 10) == "    │██   ")
        #expect(draw(-0.375, glyphs: .ascii) == "  ==|    ")
        #expect(draw(0.1, glyphs: .ascii) == "    |-   ")
        #expect(draw(1, width: 1) == "│")
    }
}
