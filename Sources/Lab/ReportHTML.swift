import CausalPO
import Foundation
import ReportCharts

/// report.html: report.md's headline tables and the run drawn as SVG charts (learning curves,
/// loss per step, weight distributions over epochs, attribute effects), one self-contained page
/// with no script and nothing fetched, so it opens offline. Every number comes from the code
/// report.md and summary.json use (`SeedSummary`, `LearningCurve`); nothing is smoothed except
/// the loss chart's EMA line, which is named in its legend and drawn over the raw points.
extension ReportWriter {
    /// What report.html holds, for the file lists of report.md and the help texts.
    static let htmlDescription = "the headline tables with SVG charts (learning curves, loss per step, weight distributions "
        + "over epochs, attribute effects, the sensitivity bounds against Λ), one file that opens offline in any browser"

    /// The weight on the past of the loss charts' EMA line: s = w·s + (1 − w)·loss.
    static let lossSmoothing = 0.9

    func html() -> String { htmlPage().html() }

    func htmlPage() -> ReportPage {
        let world = data.world != nil
        var blocks: [ReportPage.Block] = [.paragraph(htmlIntro)]
        let warnings = warnings
        if !warnings.isEmpty {
            blocks.append(.section("Warnings", id: "warnings"))
            blocks.append(.list(warnings.map { [.strong($0)] }))
        }
        blocks.append(.section("Value of each trained model under the objectives", id: "values"))
        blocks.append(.paragraph([.text("Means over seeds with 95% intervals (across seeds when there are several, otherwise "
                                        + "the estimate's own), as in table 1 of "), .link("report.md", href: "report.md"), "."]))
        blocks.append(.table(header: valueTable.header, rows: valueTable.rows))
        let reasons = reliabilityReasons
        if !reasons.isEmpty {
            blocks.append(.paragraph([.text(Self.unreliableNote)]))
            blocks.append(.list(reasons.map { [.text($0)] }))
        }
        if let w = data.world {
            blocks.append(.section("True value", id: "true-value"))
            blocks.append(.paragraph([.text("World "), .code(w.name), .text(String(format: ", best attainable value V* = %.3f.", w.bestValue))]))
            blocks.append(.table(header: trueValueTable.header, rows: trueValueTable.rows))
        }
        blocks += sensitivityBlocks
        if !trainedMethods.isEmpty {
            blocks.append(.section("Learning curves", id: "curves"))
            blocks.append(.paragraph([.text(curvesText)]))
            for q in CurveQuantity.shown(world: world) { blocks.append(.chart(curveChart(q, world: world))) }
            if case let (seed, note)? = chartSeed {
                blocks.append(.section("Training loss per step", id: "loss"))
                let w = String(format: "%.1f", Self.lossSmoothing), rest = String(format: "%.1f", 1 - Self.lossSmoothing)
                blocks.append(.paragraph([.text("Each trained method's objective at every optimizer step of seed \(seed.seed)\(note): "
                                                + "faint dots are the losses as logged, the line their exponential moving average with "
                                                + "weight \(w) on the past (s = \(w)·s + \(rest)·loss), drawn over them. The "
                                                + "objectives differ, so each method has its own chart and scale.")]))
                for m in trainedMethods { blocks.append(.chart(lossChart(m, seed))) }
                blocks.append(.section("Importance weights over epochs", id: "weights"))
                blocks.append(.paragraph([.text("Percentiles of log w = log P^f − log P^R over the held-out rows after each epoch "
                                                + "(seed \(seed.seed)\(note); epoch 0 is FT), as TensorBoard draws distributions: "
                                                + "the lightest band spans the smallest to the largest, the darker ones 5–95% and "
                                                + "25–75%, the line is the median. A band that widens means the weights pile "
                                                + "onto fewer rows (the ESS curve above).")]))
                for m in trainedMethods { blocks.append(.chart(weightChart(m, seed))) }
            }
        }
        if let seed = results.first, !seed.attributeEffects.isEmpty {
            blocks.append(.section("Attribute effects", id: "effects"))
            blocks.append(.paragraph([.text(effectsText(seed))]))
            blocks.append(.bars(effectsChart(seed)))
            blocks.append(.table(header: effectsTable(seed).header, rows: effectsTable(seed).rows))
        }
        let failures = results.flatMap { r in r.failures.map { "seed \(r.seed): \($0.key.rawValue) failed: \($0.value)" } }
        if !failures.isEmpty {
            blocks.append(.section("Failures", id: "failures"))
            blocks.append(.list(failures.map { [.text($0)] }))
        }
        blocks.append(.section("Files", id: "files"))
        blocks.append(.list([
            [.link("report.md", href: "report.md"), ": every table of the report (win rates, confounding study, by epoch, where to stop)."],
            [.link("summary.json", href: "summary.json"), ": the numbers of report.md."],
            [.code("metrics.jsonl"), ": one line per step and per epoch per method and seed (every seed's losses and weights)."],
            [.code("rows-METHOD-seedK.csv"), ", ", .code("f0-METHOD-seedK.csv"),
             ": the held-out rows and f0 samples the value estimates are computed from."],
        ]))
        return ReportPage(title: "cpo-tui report", blocks: blocks)
    }

    var htmlIntro: [ReportPage.Inline] {
        var s: [ReportPage.Inline] = ["Data: ", .code(data.sourceLabel), .text(", \(data.train.count) training rows, \(data.eval.count) held-out rows; ĝ from "),
                                      .code(config.ghatFrom.rawValue), "; P^R from ", .code(config.propensity.rawValue),
                                      .text("; seeds \(results.map { String($0.seed) }.joined(separator: ", ")); \(config.epochs) epochs per method. ")]
        s += ["This page draws the run; ", .link("report.md", href: "report.md"), " and ", .link("summary.json", href: "summary.json"),
              " hold every number."]
        return s
    }

    // MARK: colours

    /// A method's colour and dash, the same in every chart: the trained methods take the palette
    /// in `Method.allCases` order (so a method keeps its colour whatever else ran).
    static func style(_ m: Method) -> (colour: String, dash: String) {
        let i = Method.allCases.filter(\.trains).firstIndex(of: m) ?? Palette.okabeIto.count - 2
        return (Palette.colour(i), Palette.dash(i))
    }

    // MARK: learning curves

    var curvesText: String {
        results.count > 1
            ? "One point per epoch (epoch 0 is FT, where every method starts): the mean over the seeds that reached the epoch, "
                + "the shaded band its 95% t-interval across those seeds (as in report.md's by-epoch tables). Nothing is smoothed."
            : "One point per epoch (epoch 0 is FT, where every method starts), with the shaded band the epoch's own 95% interval "
                + "where the quantity has one (the value, KL to FT); the normalized gain and the ESS have none. Nothing is smoothed."
    }

    func curveChart(_ q: CurveQuantity, world: Bool) -> XYChart {
        let curves = LearningCurve.curves(q, runs: results.map(\.metrics), methods: trainedMethods, world: world)
        var layers: [XYLayer] = []
        for c in curves {
            let (colour, dash) = Self.style(c.method)
            let x = c.points.map { Double($0.epoch) }
            layers.append(.band(series: c.method.rawValue, label: "", colour: colour, opacity: 0.15, x: x,
                                lower: c.points.map(\.lower), upper: c.points.map(\.upper)))
            layers.append(.line(series: c.method.rawValue, label: c.method.rawValue, colour: colour, dash: dash,
                                points: c.points.map { XYPoint(x: Double($0.epoch), y: $0.mean) }))
        }
        let epochs = curves.flatMap { $0.points.map { Double($0.epoch) } }
        if q == .ess, let first = epochs.min(), let last = epochs.max() {
            let rule = EffectiveSampleSize.minFraction
            layers.append(.line(series: "reliability threshold", label: String(format: "%.0f%%: V_DR unreliable below", 100 * rule),
                                colour: "#777777", dash: "4 4",
                                points: [XYPoint(x: first, y: rule), XYPoint(x: last, y: rule)], markers: false))
        }
        let across = results.count > 1 ? "the shaded band is the 95% interval across \(results.count) seeds" : nil
        let band = across ?? "the shaded band is the epoch's own 95% interval"
        let note: String
        switch q {
        case .value:
            note = (world ? "Mean g* over each model's own samples, scored by the world's oracle; "
                : "V_DR, the doubly robust estimate on the held-out rows; ") + band + "."
        case .gain: note = "(V(f) − V(FT)) / (V* − V(FT)): 0 is FT, 1 the best attainable value" + (across.map { "; " + $0 } ?? "") + "."
        case .ess: note = "The held-out rows' effective sample size as a fraction of their count" + (across.map { "; " + $0 } ?? "") + "."
        case .kl: note = "KL(f ‖ FT) in nats per text, from the model's own samples; " + band + "."
        }
        let title = q.title(world: world)
        return XYChart(id: "curve-\(q.rawValue)", title: title.prefix(1).uppercased() + title.dropFirst() + " by epoch",
                       xLabel: "epoch", yLabel: title, layers: layers, integerX: true, note: note)
    }

    // MARK: loss and weights (one seed)

    /// The seed the per-step and per-epoch distribution charts draw (the first that trained),
    /// and how to say which it is.
    var chartSeed: (SeedResult, String)? {
        guard let r = results.first(where: { r in trainedMethods.contains { !(r.steps[$0] ?? []).isEmpty } }) ?? results.first else { return nil }
        return (r, results.count > 1 ? " (one of \(results.count) seeds)" : "")
    }

    func lossChart(_ m: Method, _ seed: SeedResult) -> XYChart {
        let steps = seed.steps[m] ?? []
        let (colour, dash) = Self.style(m)
        let x = steps.map { Double($0.step) }
        let ema = Smoothing.ema(steps.map(\.loss), weight: Self.lossSmoothing)
        let skipped = steps.filter { !$0.loss.isFinite }.count
        return XYChart(
            id: "loss-\(m.rawValue)", title: "\(m.rawValue) loss per step (seed \(seed.seed))", xLabel: "step", yLabel: "loss",
            layers: [.dots(series: m.rawValue, label: "loss per step (raw)", colour: colour,
                           points: steps.map { XYPoint(x: Double($0.step), y: $0.loss) }),
                     .line(series: m.rawValue, label: String(format: "EMA, weight %.1f (smoothed)", Self.lossSmoothing), colour: colour,
                           dash: dash, points: zip(x, ema).map { XYPoint(x: $0, y: $1) }, markers: false)],
            integerX: true,
            note: "\(steps.count) steps" + (skipped > 0 ? "; \(skipped) with a non-finite loss are not drawn." : "."))
    }

    func weightChart(_ m: Method, _ seed: SeedResult) -> XYChart {
        let epochs = seed.metrics[m] ?? []
        let (colour, _) = Self.style(m)
        let levels = (epochs.first?.weights.quantileLevels ?? WeightSummary.defaultQuantileLevels).sorted()
        let x = epochs.map { Double($0.epoch) }
        func at(_ level: Double) -> [Double] {
            epochs.map { e in
                let q = e.weights.logRatioQuantiles
                return e.weights.quantileLevels.firstIndex(of: level).map { $0 < q.count ? q[$0] : .nan } ?? .nan
            }
        }
        func percent(_ l: Double) -> String { l == 0 ? "min" : l == 1 ? "max" : String(format: "%g%%", 100 * l) }
        var layers: [XYLayer] = []
        for i in 0..<(levels.count / 2) {
            let lo = levels[i], hi = levels[levels.count - 1 - i]
            layers.append(.band(series: m.rawValue, label: "\(percent(lo))–\(percent(hi))", colour: colour,
                                opacity: 0.14 + 0.14 * Double(i), x: x, lower: at(lo), upper: at(hi)))
        }
        if levels.contains(0.5) {
            layers.append(.line(series: m.rawValue, label: "median", colour: colour, points: zip(x, at(0.5)).map { XYPoint(x: $0, y: $1) }))
        }
        return XYChart(id: "weights-\(m.rawValue)", title: "\(m.rawValue): log w percentiles by epoch (seed \(seed.seed))",
                       xLabel: "epoch", yLabel: "log w = log P^f − log P^R", layers: layers, integerX: true,
                       note: "Held-out rows; 0 means P^f equals P^R. Epoch 0 is FT.")
    }

    // MARK: attribute effects

    func attributeName(_ i: Int) -> String { i < data.attributeNames.count ? data.attributeNames[i] : "#\(i)" }

    func effectsText(_ seed: SeedResult) -> String {
        "Each attribute's effect on the outcome, three ways (seed \(seed.seed)"
            + (results.count > 1 ? ", one of \(results.count)" : "") + "): the OLS coefficient of the observed outcomes on the "
            + "attributes (naive: what the logged data says), the same OLS of ĝ's predictions (what ĝ learned), each with its 95% "
            + "interval as a whisker" + (data.world != nil ? ", and the world's true effect. Where naive and truth differ in sign, "
            + "the log is confounded." : ".") + " n/a: the design cannot identify the coefficient."
    }

    func effectsChart(_ seed: SeedResult) -> BarChart {
        let e = seed.attributeEffects
        var series = [
            BarSeries(series: "naive", label: "naive OLS", colour: Palette.colour(1), values: e.map(\.naive.value),
                      lower: e.map(\.naive.lower), upper: e.map(\.naive.upper)),
            BarSeries(series: "ghat", label: "ĝ learned", colour: Palette.colour(0), values: e.map(\.learned.value),
                      lower: e.map(\.learned.lower), upper: e.map(\.learned.upper)),
        ]
        if e.contains(where: { $0.truth != nil }) {
            series.append(BarSeries(series: "truth", label: "truth", colour: Palette.colour(2), values: e.map { $0.truth ?? .nan }))
        }
        return BarChart(id: "attribute-effects", title: "Attribute effects (seed \(seed.seed))", yLabel: "effect on the outcome",
                        categories: e.map { attributeName($0.attribute) }, series: series,
                        note: "Whiskers: 95% intervals (±1.96 SE of the OLS).")
    }

    func effectsTable(_ seed: SeedResult) -> ReportTable {
        let world = seed.attributeEffects.contains { $0.truth != nil }
        return ReportTable(header: ["attribute", "naive OLS (±SE)", "ĝ learned (±SE)"] + (world ? ["truth"] : []),
                           rows: seed.attributeEffects.map { a in
                               [attributeName(a.attribute), Self.withSE(a.naive), Self.withSE(a.learned)]
                                   + (world ? [a.truth.map { String(format: "%+.3f", $0) } ?? "–"] : [])
                           })
    }

    static func withSE(_ e: Estimate) -> String {
        e.value.isFinite ? String(format: "%+.3f (±%.3f)", e.value, e.standardError) : "n/a"
    }
}
