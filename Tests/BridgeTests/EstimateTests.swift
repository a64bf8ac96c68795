import CausalPO
import Foundation
import OutcomeData
import Testing
@testable import Bridge

/// `cpo-tui estimate` on hand-made rows files, against closed forms.
@Suite struct EstimateTests {
    static func rows(_ r: [(y: Double, logPF: Double, logPR: Double, ghat: Double)], weights: [Double]? = nil) -> [UInt8] {
        let w = weights ?? softmax(r.map { $0.logPF - $0.logPR })
        var s = "text,outcome,logP_f,logP_R,ghat,weight\n"
        for (i, x) in r.enumerated() { s += "\"text, \(i)\",\(x.y),\(x.logPF),\(x.logPR),\(x.ghat),\(w[i])\n" }
        return Array(s.utf8)
    }

    static func f0(_ r: [(logP0: Double, logPF: Double, ghat: Double)]) -> [UInt8] {
        let w = softmax(r.map { $0.logPF - $0.logP0 })
        var s = "text,logP_f0,logP_f,ghat,weight\n"
        for (i, x) in r.enumerated() { s += "sample \(i),\(x.logP0),\(x.logPF),\(x.ghat),\(w[i])\n" }
        return Array(s.utf8)
    }

    static func close(_ a: Double, _ b: Double, _ tol: Double = 1e-12) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }

    /// f = P^R: every weight equal, so V_IPW = V_SNIPW = the mean outcome, ESS = n, V_OUT the
    /// mean f0 ĝ and V_DR the mean residual plus V_OUT.
    @Test func equalWeightsGiveTheMeans() throws {
        let ys: [Double] = [52, 57, 51, 45, 55, 59, 48, 50, 53, 56, 49, 54]
        var rowValues: [(y: Double, logPF: Double, logPR: Double, ghat: Double)] = []
        var f0Values: [(logP0: Double, logPF: Double, ghat: Double)] = []
        for (i, y) in ys.enumerated() {
            let lp = -30 - Double(i)
            rowValues.append((y: y, logPF: lp, logPR: lp, ghat: y - 1))
            let l0 = -20 - Double(i)
            f0Values.append((logP0: l0, logPF: l0, ghat: 50 + Double(i)))
        }
        let rows = try RowsFile(bytes: Self.rows(rowValues), file: "rows.csv")
        let f0 = try F0File(bytes: Self.f0(f0Values), file: "f0.csv")
        let e = RowsEstimate(rows: rows, f0: f0)
        let mean = ys.reduce(0, +) / 12
        #expect(Self.close(e.evaluation.estimates[.ipw].value, mean))
        #expect(Self.close(e.evaluation.estimates[.snipw].value, mean))
        #expect(Self.close(e.evaluation.estimates[.out].value, 55.5))
        #expect(Self.close(e.evaluation.estimates[.drResidual].value, 1))
        #expect(Self.close(e.evaluation.estimates[.dr].value, 56.5))
        #expect(Self.close(e.evaluation.weights.ess, 12) && e.evaluation.weights.essFraction > 0.999)
        #expect(e.rowsCheck.matches && e.f0Check?.matches == true)
        #expect(e.evaluation.reliability.unreliable.isEmpty)
        // The sample SE of V_SNIPW at equal weights: sd(Y)/√n.
        let sd = (ys.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 11).squareRoot()
        #expect(Self.close(e.evaluation.estimates[.snipw].standardError, sd / 12.0.squareRoot(), 1e-9))
        let json = e.json
        let est = try #require(json["estimates"] as? [String: Any])
        let ipw = try #require(est["v_ipw"] as? [String: Any])
        #expect(Self.close(try #require(ipw["value"] as? Double), mean))
        #expect((json["unreliable"] as? [String])?.isEmpty == true)
    }

    /// Two rows, one with twice the weight: V_SNIPW = (2·y1 + y2)/3; V_IPW = (1/n) Σ w y with
    /// the un-normalized w = P^f/P^R.
    @Test func unequalWeightsFollowTheFormulas() throws {
        let l2 = Foundation.log(2.0)
        let rows = try RowsFile(bytes: Self.rows([(y: 10, logPF: l2, logPR: 0, ghat: 0), (y: 40, logPF: 0, logPR: 0, ghat: 0)]),
                                file: "rows.csv")
        let e = RowsEstimate(rows: rows, f0: nil)
        #expect(Self.close(e.evaluation.estimates[.snipw].value, 20))
        #expect(Self.close(e.evaluation.estimates[.ipw].value, (2 * 10 + 40) / 2))
        // No f0 file: V_OUT and V_DR are not computed, and JSON says null.
        #expect(e.evaluation.estimates[.dr].value.isNaN && e.evaluation.f0Weights == nil)
        let est = try #require(e.json["estimates"] as? [String: Any])
        #expect(est["v_dr"] is NSNull && est["v_out"] is NSNull)
        #expect(e.text.contains("needs --f0"))
    }

    /// A weight column that is not the softmax of the log-ratios is reported with its line;
    /// the estimates use the recomputed weights.
    @Test func aWrongWeightColumnIsReported() throws {
        let r: [(y: Double, logPF: Double, logPR: Double, ghat: Double)] = [(1, 0, 0, 0), (2, 0, 0, 0), (3, 0, 0, 0)]
        let rows = try RowsFile(bytes: Self.rows(r, weights: [0.5, 0.25, 0.25]), file: "rows.csv")
        let e = RowsEstimate(rows: rows, f0: nil)
        #expect(!e.rowsCheck.matches && e.rowsCheck.mismatches == 3)
        #expect(Self.close(e.evaluation.estimates[.snipw].value, 2))
        #expect(e.text.contains("WARNING: rows.csv: 3 of 3 weights differ") && e.text.contains("line 2"))
        let check = try #require((e.json["weight_check"] as? [String: Any])?["rows"] as? [String: Any])
        #expect(check["mismatches"] as? Int == 3)
    }

    /// Six rows are too few effective rows (the lab's rule needs at least 10): the weighted
    /// estimates are marked as the lab marks them, naming only estimates the files define.
    @Test func fewEffectiveRowsAreMarkedUnreliable() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/watch-run/evals")
        let rows = try RowsFile(path: dir.appendingPathComponent("rows-CPO-seed0-epoch1.csv").path)
        let e = RowsEstimate(rows: rows, f0: nil, batchSize: 4)
        #expect(e.json["unreliable"] as? [String] == ["v_ipw", "v_snipw"])
        let reason = try #require(e.json["unreliable_reason"] as? String)
        #expect(reason.hasPrefix("V_IPW, V_SNIPW unreliable: held-out ESS 5.1 of 6 rows"), "\(reason)")
        #expect(e.text.contains("V_IPW           78.3390!") && e.text.contains("DR residual      0.7967 "), "\(e.text)")
        let full = RowsEstimate(rows: rows, f0: try F0File(path: dir.appendingPathComponent("f0-CPO-seed0-epoch1.csv").path))
        #expect(full.json["unreliable"] as? [String] == ["v_dr", "v_ipw", "v_snipw", "v_out"])
    }

    /// The error reading `bytes` as a rows file (or f0 file) gives, as the command prints it.
    static func failure<F: EvaluationFile>(_ type: F.Type, _ text: String, file: String) -> String {
        do {
            _ = try F(bytes: Array(text.utf8), file: file)
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func aMissingColumnIsNamed() {
        let d = Self.failure(RowsFile.self, "text,outcome,logP_f,ghat,weight\na,1,0,0,1\n", file: "rows.csv")
        #expect(d.hasPrefix("rows.csv:1:1:") && d.contains("'logP_R'") && d.contains("text,outcome,logP_f,logP_R,ghat,weight"), "\(d)")
    }

    @Test func aFieldThatIsNotANumberIsLocated() {
        let d = Self.failure(RowsFile.self, "text,outcome,logP_f,logP_R,ghat,weight\na,1,0,0,0,1\nb,n/a,0,0,0,1\n", file: "rows.csv")
        #expect(d.hasPrefix("rows.csv:3:3:") && d.contains("'n/a' is not a finite number") && d.contains("outcome"), "\(d)")
    }

    @Test func aTruncatedLineIsAnError() {
        let cut = Self.failure(F0File.self, "text,logP_f0,logP_f,ghat,weight\na,1,0,0,1\nb,-3.5,-2", file: "f0.csv")
        #expect(cut.hasPrefix("f0.csv:3:") && cut.contains("cut short"), "\(cut)")
        // An unterminated quote (a text cut mid-write) is located where it opens.
        let quote = Self.failure(F0File.self, "text,logP_f0,logP_f,ghat,weight\n\"a, b", file: "f0.csv")
        #expect(quote.hasPrefix("f0.csv:2:1:"), "\(quote)")
        let empty = Self.failure(F0File.self, "text,logP_f0,logP_f,ghat,weight\n", file: "f0.csv")
        #expect(empty.contains("no rows"), "\(empty)")
    }
}
