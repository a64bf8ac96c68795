import CausalPO
import Foundation

/// Which epoch of a method's run to keep, chosen from what the run observes and never from a
/// world's truth.
///
/// The rule is an ESS budget: keep the last epoch whose V_DR is reliable
/// (``EstimateReliability``: the held-out rows' and the f0 samples' effective sizes at least 5%
/// of their count and at least 10). Past that epoch the policy has moved so far from the
/// randomized texts that its value rests on a handful of them, so nothing observable says it
/// improved. When no trained epoch is reliable the rule keeps the reference (epoch 0, FT).
public enum StoppingRule {
    /// The epoch the rule keeps among `metrics` (one method's evaluations in epoch order).
    public static func chosen(_ metrics: [EpochMetrics]) -> EpochMetrics? {
        metrics.last { $0.epoch >= 1 && $0.reliability.isReliable(.dr) } ?? metrics.first { $0.epoch == 0 }
    }

    /// The rule, in one sentence for reports.
    public static let statement = "the last epoch whose V_DR is reliable (held-out and f0 ESS at least "
        + String(format: "%.0f%%", EffectiveSampleSize.minFraction * 100) + " and \(Int(EffectiveSampleSize.minimum))), else FT"
}

/// One per-epoch quantity of the report's by-epoch tables.
struct EpochQuantity: Sendable {
    var name: String
    var key: String
    var worldsOnly: Bool
    var value: @Sendable (EpochMetrics) -> Double?

    static let all: [EpochQuantity] = [
        EpochQuantity(name: "normalized gain", key: "normalized_gain", worldsOnly: true) { $0.normalizedGain },
        EpochQuantity(name: "invalid-text rate", key: "invalid_rate", worldsOnly: true) { $0.invalidRate },
        EpochQuantity(name: "KL to FT (nats)", key: "kl_to_ft", worldsOnly: false) { $0.klToFT.value },
        EpochQuantity(name: "held-out ESS fraction", key: "ess_fraction", worldsOnly: false) { $0.weights.essFraction },
        EpochQuantity(name: "V_DR", key: Estimator.dr.summaryKey, worldsOnly: false) { $0.estimates[.dr].value },
    ]
}

extension ReportWriter {
    /// The trained methods, in the configuration's order.
    var trainedMethods: [Method] { config.methods.filter(\.trains) }

    /// The epochs any seed evaluated a trained method at, from 1.
    var trainedEpochs: [Int] {
        let all = Set(results.flatMap { r in trainedMethods.flatMap { m in (r.metrics[m] ?? []).map(\.epoch) } })
        return all.filter { $0 >= 1 }.sorted()
    }

    var epochQuantities: [EpochQuantity] { EpochQuantity.all.filter { data.world != nil || !$0.worldsOnly } }

    /// A quantity of method `m` at `epoch`: mean over the seeds that reached it, 95% interval.
    func overEpoch(_ m: Method, _ epoch: Int, _ f: (EpochMetrics) -> Double?) -> SeedSummary {
        SeedSummary(results.compactMap { r in r.metrics[m]?.first { $0.epoch == epoch } }.compactMap(f))
    }

    /// Per seed, the epoch the stopping rule keeps and the best epoch by true gain (hindsight,
    /// worlds only; for reporting how far the rule is from it, never for choosing).
    func stopping(_ m: Method) -> (chosen: [EpochMetrics], hindsight: [EpochMetrics]) {
        let runs = results.compactMap { r in r.metrics[m] }.filter { !$0.isEmpty }
        let chosen = runs.compactMap { StoppingRule.chosen($0) }
        let hindsight = data.world == nil ? [] : runs.compactMap { run in
            run.filter { $0.normalizedGain != nil }.max { ($0.normalizedGain ?? 0) < ($1.normalizedGain ?? 0) }
        }
        return (chosen, hindsight)
    }

    /// summary.json's per-method `by_epoch` list and `stopping_rule` object.
    func byEpochJSON(_ m: Method) -> (byEpoch: [[String: Any]], stopping: [String: Any]) {
        let rows: [[String: Any]] = trainedEpochs.map { e in
            var o: [String: Any] = ["epoch": e]
            for q in epochQuantities { o[q.key] = overEpoch(m, e, q.value).json }
            return o
        }
        let (chosen, hindsight) = stopping(m)
        var s: [String: Any] = ["rule": StoppingRule.statement, "epochs": chosen.map(\.epoch)]
        if data.world != nil {
            s["normalized_gain"] = SeedSummary(chosen.compactMap(\.normalizedGain)).json
            s["hindsight_epochs"] = hindsight.map(\.epoch)
            s["hindsight_normalized_gain"] = SeedSummary(hindsight.compactMap(\.normalizedGain)).json
        }
        return (rows, s)
    }

    /// report.md's by-epoch section: each quantity per epoch and trained method, then where the
    /// stopping rule stops. Empty when no method trained.
    func byEpochSection(number: Int) -> String {
        let methods = trainedMethods
        let epochs = trainedEpochs
        guard !methods.isEmpty, !epochs.isEmpty else { return "" }
        var md = "\n## \(number). By epoch\n\n"
        md += "Each quantity after each epoch: mean over the seeds with a 95% interval (across seeds when there are several).\n"
        for q in epochQuantities {
            md += "\n\(q.name):\n\n| epoch | " + methods.map(\.rawValue).joined(separator: " | ") + " |\n|"
            md += String(repeating: "---|", count: methods.count + 1) + "\n"
            for e in epochs {
                md += "| \(e) | " + methods.map { overEpoch($0, e, q.value).text }.joined(separator: " | ") + " |\n"
            }
        }
        md += "\nWhere to stop, by a rule that reads no truth: \(StoppingRule.statement).\n\n"
        let world = data.world != nil
        md += "| method | epoch kept (per seed) |" + (world ? " normalized gain there | best epoch in hindsight | its gain |" : "") + "\n|"
        md += String(repeating: "---|", count: world ? 5 : 2) + "\n"
        for m in methods {
            let (chosen, hindsight) = stopping(m)
            md += "| \(m.rawValue) | " + chosen.map { "\($0.epoch)" }.joined(separator: ", ") + " |"
            if world {
                md += " " + SeedSummary(chosen.compactMap(\.normalizedGain)).text + " | "
                md += hindsight.map { "\($0.epoch)" }.joined(separator: ", ") + " | " + SeedSummary(hindsight.compactMap(\.normalizedGain)).text + " |"
            }
            md += "\n"
        }
        if world { md += "\nThe best epoch in hindsight reads the world's truth: it is shown to judge the rule, never used to choose.\n" }
        return md
    }
}
