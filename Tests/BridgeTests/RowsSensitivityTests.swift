import CausalPO
import CPOSupport
import Foundation
import Lab
import OutcomeData
import Testing
@testable import Bridge

/// `cpo-tui sensitivity`'s analyses of rows files, and the ones `watch` attaches to an external
/// trainer's evaluations, against `Sensitivity.analyze` computed directly.
@Suite struct RowsSensitivityTests {
    static func file(_ name: String) -> String { WatchFixture.run.appendingPathComponent("evals/" + name).path }

    static func files() throws -> (rows: RowsFile, f0: F0File, ftRows: RowsFile, ftF0: F0File) {
        (try RowsFile(path: file("rows-CPO-seed0-epoch1.csv")), try F0File(path: file("f0-CPO-seed0-epoch1.csv")),
         try RowsFile(path: file("rows-FT-seed0-epoch0.csv")), try F0File(path: file("f0-FT-seed0-epoch0.csv")))
    }

    /// Against FT's files: each estimator's analysis is `Sensitivity.analyze` on the same inputs
    /// with FT's estimate (the lab's estimator on FT's files) as the reference, and Λ = 1 gives
    /// back the point estimate `estimate` prints.
    @Test func analysesEqualTheCoreAgainstFTsEstimate() throws {
        let (rows, f0, ftRows, ftF0) = try Self.files()
        let options = RowsSensitivity.Options(lambdas: [1, 1.5, 3], replicates: 50, seed: 3)
        let r = RowsSensitivity.analyze(rows: rows, f0: f0, normalization: .hajek, reference: .files(rows: ftRows, f0: ftF0), options: options)
        #expect(r.entries.map(\.analysis.estimator) == [.snipw, .dr] && r.notes.isEmpty)
        let inputs = EstimatorInputs(rows: rows, f0: f0, normalization: .hajek)
        let ft = RowsEstimate(rows: ftRows, f0: ftF0).evaluation.estimates
        let own = RowsEstimate(rows: rows, f0: f0).evaluation.estimates
        for entry in r.entries {
            let e = entry.analysis.estimator
            let ref = try #require(entry.analysis.reference)
            #expect(abs(ref - ft[e].value) <= 1e-9 * max(1, abs(ref)), "\(e)")
            #expect(entry.source == .ftRows(file: ftRows.table.file))
            let direct = try #require(Sensitivity.analyze(inputs, estimator: e, reference: ref, lambdas: options.lambdas,
                                                          replicates: 50, seed: 3))
            #expect(entry.analysis == direct, "\(e)")
            let one = try #require(entry.analysis.bound(at: 1))
            #expect(abs(one.lower - own[e].value) <= 1e-9 * max(1, abs(own[e].value)) && one.lower == one.upper, "\(e)")
        }
    }

    /// Without FT's value the reference is P^R's own, computed from the same files with every
    /// weight 1: V_SNIPW = mean Y, V_DR = mean(Y − ĝ) + the f0 samples' mean ĝ.
    @Test func prOwnValueIsTheUnweightedMean() throws {
        let (rows, f0, _, _) = try Self.files()
        let n = Double(rows.table.count), m = Double(f0.table.count)
        let r = RowsSensitivity.analyze(rows: rows, f0: f0, normalization: .horvitzThompson, reference: .prOwnValue,
                                        options: .init(replicates: 0))
        let snipw = try #require(r.entries.first { $0.analysis.estimator == .snipw })
        let dr = try #require(r.entries.first { $0.analysis.estimator == .dr })
        let meanY = rows.outcomes.reduce(0, +) / n
        let meanResidual = zip(rows.outcomes, rows.ghat).map { $0 - $1 }.reduce(0, +) / n
        #expect(abs(try #require(snipw.analysis.reference) - meanY) < 1e-12)
        #expect(abs(try #require(dr.analysis.reference) - (meanResidual + f0.ghat.reduce(0, +) / m)) < 1e-12)
        #expect(snipw.source == .prOwnValue && snipw.analysis.replicates == 0 && snipw.analysis.breakdownInterval == nil)
        #expect(snipw.analysis.bounds.allSatisfy { $0.intervalLower == nil })
    }

    /// Without an f0 file V_DR is left out, and said so; with FT's rows but not its f0 file, V_DR
    /// has no reference (and no Λ*), and says what to pass.
    @Test func missingF0FilesAreSaid() throws {
        let (rows, f0, ftRows, _) = try Self.files()
        let a = RowsSensitivity.analyze(rows: rows, f0: nil, normalization: .hajek, reference: .prOwnValue, options: .init(replicates: 0))
        #expect(a.entries.map(\.analysis.estimator) == [.snipw] && a.notes.first?.contains("--f0") == true)
        let b = RowsSensitivity.analyze(rows: rows, f0: f0, normalization: .hajek, reference: .files(rows: ftRows, f0: nil),
                                        options: .init(replicates: 0))
        let dr = try #require(b.entries.first { $0.analysis.estimator == .dr })
        #expect(dr.analysis.reference == nil && dr.analysis.breakdown == nil && dr.source.key == nil)
        #expect(b.text.contains("--reference-f0"))
    }

    @Test func textAndJSONSayWhatΛStarMeans() throws {
        let (rows, _, _, _) = try Self.files()
        func result(_ reference: Double) -> SensitivityResult {
            RowsSensitivity.analyze(rows: rows, f0: nil, normalization: .hajek, reference: .value(reference), options: .init(replicates: 20))
        }
        let y = rows.outcomes
        let point = try #require(result(0).entries.first?.analysis.point)
        let mid = result((y.min()! + point) / 2)
        let star = try #require(mid.entries.first?.analysis.breakdown)
        #expect(star > 1 && star.isFinite)
        #expect(mid.text.contains("Λ* = \(SensitivityResult.short(star))") && mid.text.contains("to erase the gain over FT"))
        let never = result(y.min()! - 1)
        #expect(never.text.contains("no Λ erases the gain over FT"))
        #expect(never.json["analyses"].flatMap { ($0 as? [[String: Any]])?.first?["breakdown"] as? String } == "inf")
        let none = result(y.max()! + 1)
        #expect(none.text.contains("Λ* = 1: no gain over FT to erase"))
        // JSON: the documented keys, and it serializes.
        let o = try #require(mid.json["analyses"] as? [[String: Any]]).first ?? [:]
        for key in ["estimator", "point", "reference", "reference_source", "breakdown", "breakdown_95", "bounds", "replicates"] {
            #expect(o[key] != nil, "\(key)")
        }
        let bound = try #require((o["bounds"] as? [[String: Any]])?.first)
        #expect(Set(bound.keys) == ["lambda", "lower", "upper", "ci95_lower", "ci95_upper"])
        #expect(SensitivityResult.jsonText(mid.json).hasPrefix("{"))
    }

    @Test func lambdaListsAreCheckedValueByValue() {
        #expect((try? RowsSensitivity.parseLambdas("2, 1,1.5,2").get()) == [1, 1.5, 2])
        for (bad, says) in [("1,x", "'x' is not a finite number"), ("0.9", "below 1"), ("1,,2", "'' is not"), ("nan", "not a finite"),
                            ("1,inf", "not a finite")] {
            guard case .failure(let e) = RowsSensitivity.parseLambdas(bad) else {
                Issue.record("\(bad) was accepted")
                continue
            }
            #expect(e.description.contains(says) && e.description.hasPrefix("--lambdas"), "\(e.description)")
        }
    }

    /// `watch` gives an external trainer's evaluation its sensitivity analyses: against FT's
    /// estimate (FT's own: Λ* = 1), and, when FT's evaluation comes later, measured again then.
    @Test func watchAttachesTheAnalysesAgainstFT() throws {
        var m = WatchFixture.model()
        m.ingest(try WatchFixture.metrics())
        let s = m.snapshot()
        let (rows, f0, ftRows, ftF0) = try Self.files()
        let ft = RowsEstimate(rows: ftRows, f0: ftF0).evaluation.estimates
        let cpo = try #require(s.method(.cpo)?.epochs.last?.sensitivity)
        #expect(cpo.map(\.estimator) == [.snipw, .dr])
        let inputs = EstimatorInputs(rows: rows, f0: f0, normalization: .hajek)
        for a in cpo {
            #expect(a.reference == ft[a.estimator].value, "\(a.estimator)")
            let direct = Sensitivity.analyze(inputs, estimator: a.estimator, reference: ft[a.estimator].value,
                                             seed: SeededRandom.derivedSeed(0, "sensitivity-CPO-1"))
            #expect(a == direct)
        }
        let ftOwn = try #require(s.method(.ft)?.epochs.first?.sensitivity)
        #expect(ftOwn.allSatisfy { ($0.breakdown ?? 0) <= 1 + 1e-9 })

        // The CPO line before FT's: P^R's own value first, FT's once FT's line is read.
        let lines = String(decoding: try WatchFixture.metrics(), as: UTF8.self).split(separator: "\n").map(String.init)
        let ftLine = try #require(lines.first { $0.contains("\"type\":\"epoch\"") && $0.contains("\"method\":\"FT\"") })
        let rest = lines.filter { $0 != ftLine }
        var late = WatchFixture.model()
        late.ingest(Array((rest.joined(separator: "\n") + "\n").utf8))
        let before = try #require(late.snapshot().method(.cpo)?.epochs.last?.sensitivity)
        let snipwPR = try #require(RowsSensitivity.prOwnValue(inputs, estimator: .snipw))
        #expect(before.first?.reference == snipwPR)
        late.ingest(Array((ftLine + "\n").utf8))
        let after = try #require(late.snapshot().method(.cpo)?.epochs.last?.sensitivity)
        #expect(after == cpo)
    }
}
