import Foundation

/// Turning world samples into datasets: the CSV that `cpo-tui world sample` writes, an
/// in-memory `OutcomeDataset`, and a readable summary for `cpo-tui world check`.
public enum WorldDatasets {
    /// The dataset columns of a sampled world CSV (<doc:WorldFileFormat>): text, outcome, trait,
    /// propensity, design, one 0/1 column per attribute, true_value.
    public static func header(world: World) -> [String] {
        leadingColumns + world.attributes.map(\.name) + [trueValueColumn]
    }

    static let leadingColumns = ["text", "outcome", "trait", "propensity", "design"]
    static let trueValueColumn = "true_value"
    /// The columns every sampled world CSV has besides its attributes' (which must not take
    /// these names).
    public static var fixedColumns: [String] { leadingColumns + [trueValueColumn] }

    /// The columns a loader should use to read a sampled world CSV back.
    public static func columns(world: World) -> DatasetColumns {
        var c = DatasetColumns(text: "text", outcome: "outcome")
        c.propensity = "propensity"
        c.propensityScale = .probability
        c.trait = "trait"
        c.attributes = world.attributes.map(\.name)
        c.trueValue = "true_value"
        return c
    }

    /// Randomized texts `summary` scores to estimate V(P^R) (its message says 20,000).
    static let valueProbeTexts = 20_000
    /// The normal quantile of a two-sided 95% interval.
    static let z95 = 1.96

    public static func csv(world: World, samples: [WorldSample]) -> CSVWriter {
        var w = CSVWriter(header: header(world: world))
        for s in samples {
            var included = [Bool](repeating: false, count: world.attributes.count)
            for a in s.composition.attributes { included[a] = true }
            let outcome = world.outcomeKind == .binary ? CSVWriter.format(Int(s.outcome)) : CSVWriter.format(s.outcome)
            w.writeRecord([s.text, outcome, CSVWriter.format(s.trait), CSVWriter.format(exp(s.logPropensity)), s.design.rawValue]
                          + included.map { $0 ? "1" : "0" } + [CSVWriter.format(s.trueValue)])
        }
        return w
    }

    /// The samples as an in-memory dataset (lines numbered as in the CSV: header on line 1).
    /// `marginal`: each row's propensity is its text's probability averaged over readers
    /// (`WorldSample.logMarginalPropensity`, the hidden-trait study) instead of the CSV's
    /// probability for the row's own reader.
    public static func dataset(world: World, samples: [WorldSample], source: String, marginal: Bool = false) -> OutcomeDataset {
        let rows = samples.enumerated().map { i, s -> OutcomeRow in
            var attrs = [Double](repeating: 0, count: world.attributes.count)
            for a in s.composition.attributes { attrs[a] = 1 }
            return OutcomeRow(text: s.text, outcome: s.outcome, logPropensity: marginal ? s.logMarginalPropensity : s.logPropensity, trait: Double(s.trait),
                              split: nil, attributes: attrs, trueValue: s.trueValue, line: i + 2)
        }
        return OutcomeDataset(source: source, columns: columns(world: world), outcomeKind: world.outcomeKind,
                              higherIsBetter: true, rows: rows, totalRecords: rows.count, badRowCount: 0, firstBadRows: [])
    }

    /// A readable description of a world: its outcome, readers, attributes with their effects
    /// and tilts, the value of random texts, the best attainable value V* and, with an
    /// observational design, the Λ its reader trait implies when hidden.
    public static func summary(world w: World, path: String) -> String {
        func f(_ x: Double, _ digits: Int = 2) -> String { String(format: "%+.\(digits)f", x) }
        var lines: [String] = []
        lines.append("\(w.name): a valid world (\(path))")
        if !w.description.isEmpty { lines.append("  \(w.description)") }
        switch w.outcomeKind {
        case .continuous:
            lines.append("  outcome: continuous, baseline \(w.baseline), noise sd \(w.noiseSD)")
        case .binary:
            lines.append("  outcome: binary, baseline log-odds \(w.baseline)")
        }
        if let r = w.readers {
            lines.append("  readers: trait '\(r.trait)', prevalence \(r.prevalence), response shift ±\(r.effect)")
        } else {
            lines.append("  readers: no trait")
        }
        let pool = w.attributes.reduce(0) { $0 + $1.passages.count }
        let counts = w.passageCounts.map(String.init).joined(separator: " or ")
        lines.append("  texts: \(counts) passages from \(w.attributes.count) attributes (\(pool) passages in all); readers read \(w.attention); each invalid segment \(f(w.invalidEffect, 1))")
        lines.append("  attribute".padding(toLength: 22, withPad: " ", startingAt: 0) + "effect  passages  observational tilt")
        for a in w.attributes {
            let tilt = w.tilt[a.name].map { f($0) } ?? "0"
            lines.append("    " + a.name.padding(toLength: 18, withPad: " ", startingAt: 0)
                         + f(a.effect).padding(toLength: 8, withPad: " ", startingAt: 0)
                         + String(a.passages.count).padding(toLength: 10, withPad: " ", startingAt: 0) + tilt)
        }
        let probe = w.sampledTrueValues(rows: valueProbeTexts, design: .randomized, seed: 1)
        let mean = probe.reduce(0, +) / Double(probe.count)
        let sd = (probe.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(probe.count - 1)).squareRoot()
        lines.append(String(format: "  value of randomized texts V(P^R): %.3f (± %.3f, Monte Carlo over 20,000 texts)",
                            mean, z95 * sd / Double(probe.count).squareRoot()))
        let best = w.optimum()
        lines.append(String(format: "  best attainable value V*: %.3f, e.g. \"%@\"", best.value, w.text(of: best.composition)))
        if w.hasObservationalDesign, let r = w.readers {
            lines.append(String(format: "  hidden trait: a log that never recorded '%@' implies Λ = %.2f (a text's chance for one reader is up to that many times its average over readers)",
                                r.trait, w.hiddenTraitLambda))
        }
        return lines.joined(separator: "\n")
    }
}
