import CausalPO
import Foundation
import Testing
@testable import Lab

/// Saved runs survive upgrades: `Fixtures/checkpoint-v1` is a run directory written by the
/// first checkpoint format (format 1; `cpo-tui run` with the tiny settings of `tinyConfig`, every
/// method, one epoch, seed 3, world river-cleanup). Whatever the format becomes, this file
/// must keep loading, keep its meaning and resume.
@Suite("checkpoint fixtures from earlier versions")
struct CheckpointFixtureTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/checkpoint-v1").path

    /// A scratch copy, so resuming never writes into the fixture.
    func scratchCopy(_ label: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpo-fixture-\(label)-\(getpid())").path
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: path)
        return path
    }

    /// What format 1 recorded in metrics.jsonl at save time: (method, epoch) → V_DR.
    func recordedVDR(_ dir: String) throws -> [String: Double] {
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  obj["type"] as? String == "epoch",
                  let m = obj["method_name"] as? String, let e = obj["epoch"] as? Int,
                  let vDR = obj["vDR"] as? [String: Any], let v = vDR["value"] as? Double else { continue }
            out["\(m)@\(e)"] = v
        }
        return out
    }

    @Test func theFirstFormatLoadsWithItsMeaningAndResumes() throws {
        let path = try scratchCopy("v1")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (dir, config) = try RunDirectory.open(path)
        #expect(config.seed == 3 && config.methods == Method.allCases)
        let (exp, info) = try dir.restore(seed: 3, config: config)
        #expect(info.format == 1)
        let recorded = try recordedVDR(path)
        #expect(!recorded.isEmpty, "the fixture's metrics.jsonl holds epoch lines")
        for m in config.methods where m != .ft {
            #expect(exp.epochs(of: m) == 1, "\(m) was saved after one epoch")
            let last = try #require(exp.metrics[m]?.last)
            let saved = try #require(recorded["\(m.rawValue)@1"], "metrics.jsonl has \(m) epoch 1")
            #expect(abs(last.vDR.value - saved) <= 1e-9 * max(1, abs(saved)), "\(m): V_DR \(last.vDR.value) vs \(saved)")
        }
        // Resume: one more epoch of a causal method trains and evaluates from the loaded state.
        let next = try #require(exp.step(.cpo))
        #expect(next.epoch == 2 && next.vDR.value.isFinite)
        #expect(exp.steps[.cpo]!.count > 0)
    }
}
