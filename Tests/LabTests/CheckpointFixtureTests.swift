import CausalPO
import CPOSupport
import Foundation
import Testing
@testable import Lab

/// A run directory written by an earlier checkpoint format, and that format.
struct CheckpointFixture: Sendable, CustomStringConvertible {
    var name: String
    var format: Int
    var path: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/" + name).path
    }
    var description: String { name }
}

/// Saved runs survive upgrades: `Fixtures/checkpoint-v1` is a run directory written by the
/// first checkpoint format (format 1; `cpo-tui run` with the tiny settings of `tinyConfig`, every
/// method, one epoch, seed 3, world river-cleanup), `Fixtures/checkpoint-v2` the same run
/// written by format 2 (the last before the model's shape was fitted to the data and FT had
/// validation rows of its own), `Fixtures/checkpoint-v3` the same configuration run afresh by
/// format 3 (the last before the KL controller's state was saved). Whatever the format becomes, these files must keep loading,
/// keep their meaning and resume.
@Suite("checkpoint fixtures from earlier versions")
struct CheckpointFixtureTests {
    static let v1 = CheckpointFixture(name: "checkpoint-v1", format: 1)
    static let fixtures = [v1, CheckpointFixture(name: "checkpoint-v2", format: 2), CheckpointFixture(name: "checkpoint-v3", format: 3)]
    static let fixture = v1.path

    /// A scratch copy, so resuming never writes into the fixture.
    func scratchCopy(_ label: String, of fixture: CheckpointFixture = v1) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpo-fixture-\(label)-\(fixture.name)-\(getpid())").path
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
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

    @Test(arguments: fixtures) func earlierFormatsLoadWithTheirMeaningAndResume(_ fixture: CheckpointFixture) throws {
        let path = try scratchCopy("load", of: fixture)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (dir, config) = try RunDirectory.open(path)
        // Every method there was when format 1 was written.
        #expect(config.seed == 3 && config.methods == [.ft, .ooRLHF, .cpo, .drCPO, .filteredSFT, .rwr, .dpo])
        // As it was made: the configured shape, no validation rows.
        #expect(!config.fitContext && !config.fitVocabulary && config.validationRows == 0)
        let (exp, info) = try dir.restore(seed: 3, config: config)
        #expect(info.format == fixture.format)
        #expect(exp.modelShape == config.model && exp.data.validation.isEmpty)
        let recorded = try recordedVDR(path)
        #expect(!recorded.isEmpty, "the fixture's metrics.jsonl holds epoch lines")
        for m in config.methods where m.trains {
            #expect(exp.epochs(of: m) == 1, "\(m) was saved after one epoch")
            let last = try #require(exp.metrics[m]?.last)
            let saved = try #require(recorded["\(m.rawValue)@1"], "metrics.jsonl has \(m) epoch 1")
            #expect(abs(last.estimates[.dr].value - saved) <= 1e-9 * max(1, abs(saved)), "\(m): V_DR \(last.estimates[.dr].value) vs \(saved)")
        }
        // Resume: one more epoch of a causal method trains and evaluates from the loaded state.
        let next = try #require(exp.step(.cpo))
        #expect(next.epoch == 2 && next.estimates[.dr].value.isFinite)
        #expect(exp.steps[.cpo]!.count > 0)
    }

    /// metrics.jsonl is what it was: the lines written from the loaded run equal, byte for byte,
    /// the ones the earlier format wrote when it saved (the estimates under their first names).
    @Test(arguments: fixtures) func metricsLinesKeepTheirShape(_ fixture: CheckpointFixture) throws {
        let path = try scratchCopy("lines", of: fixture)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (dir, config) = try RunDirectory.open(path)
        let (exp, _) = try dir.restore(seed: 3, config: config)
        let written = ReportWriter(config: config, data: exp.data, results: [SeedResult(exp, heldOutRows: false)]).metricsJSONL()
        #expect(written == (try String(contentsOfFile: path + "/metrics.jsonl", encoding: .utf8)))
    }

    /// Loaded from an earlier format and saved again, the run is in the current format and reads
    /// back the same.
    @Test(arguments: fixtures) func earlierFormatsAreSavedAgainInTheCurrentOne(_ fixture: CheckpointFixture) throws {
        let path = try scratchCopy("resave", of: fixture)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (dir, config) = try RunDirectory.open(path)
        let (old, _) = try dir.restore(seed: 3, config: config)
        try dir.save(old)
        #expect(try dir.info(seed: 3).format == Int(Checkpoint.version))
        let (again, _) = try dir.restore(seed: 3, config: config)
        for m in config.methods {
            #expect(again.metrics[m] == old.metrics[m] && again.steps[m] == old.steps[m], "\(m)")
            #expect(again.epochs(of: m) == old.epochs(of: m))
        }
        #expect(again.ftMetrics == old.ftMetrics && again.modelShape == old.modelShape)
        let (a, b) = (try #require(again.inputs), try #require(old.inputs))
        #expect(a.rowSeqs == b.rowSeqs && a.outcomes == b.outcomes && a.logPFT == b.logPFT && a.outcomeSD == b.outcomeSD)
        #expect(a.f0Seqs == b.f0Seqs && a.f0Ghat == b.f0Ghat)
    }

    /// A checkpoint from a format newer than this build reads says which format made it and that
    /// it cannot be read, rather than calling the file damaged.
    @Test func aNewerFormatSaysWhichFormatMadeIt() throws {
        let path = try scratchCopy("v99")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (dir, config) = try RunDirectory.open(path)
        let file = dir.checkpointPath(seed: 3)
        let sections = try Checkpoint.open(Array(try Data(contentsOf: URL(fileURLWithPath: file))), path: file).sections
        let newer = SectionFile.encode(magic: Checkpoint.magic, version: 99, sections: sections.map { ($0.tag, Array($0.bytes)) })
        try Data(newer).write(to: URL(fileURLWithPath: file))
        let expected = RunStoreError.unsupportedFormat(path: file, found: 99, readable: 1...Checkpoint.version)
        #expect(throws: expected) { try dir.restore(seed: 3, config: config) }
        #expect(throws: expected) { try dir.info(seed: 3) }
        #expect(expected.description.contains("format 99") && expected.description.contains("cannot read"))
        #expect(expected.description.contains("formats 1 to \(Checkpoint.version)"))
    }
}
