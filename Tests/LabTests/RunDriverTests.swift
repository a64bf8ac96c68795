import CausalPO
import Foundation
import Synchronization
import Testing
@testable import Lab

/// Collects a `SeedRun`'s events (the driver calls back on the thread that drives it).
final class EventLog {
    var events: [RunEvent] = []
    func record(_ e: RunEvent) { events.append(e) }

    /// The saves' messages without their sizes and times: "saved after CPO epoch 1".
    var saves: [String] {
        events.compactMap { e -> String? in
            guard case .saved(let s) = e else { return nil }
            return s.succeeded ? String(s.message.prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces) : "failed: " + s.message
        }
    }

    /// The methods in the order their epochs ended.
    var epochOrder: [String] {
        events.compactMap { e -> String? in
            guard case let .epochEnded(m, metrics?) = e else { return nil }
            return "\(m.method.rawValue) \(metrics.epoch)"
        }
    }
}

@Suite("the run driver")
struct RunDriverTests {
    /// `cpo-tui run` (the driver run to the end, as `HeadlessRun` does) and the dashboard's
    /// session told to `.run` train the same epochs in the same order, save at the same moments
    /// and produce the same metrics and the same metrics.jsonl.
    @Test func headlessAndSessionRunsAgree() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo, .drCPO])
        cfg.epochs = 2
        let headlessPath = temporaryRunPath("driver-headless"), sessionPath = temporaryRunPath("driver-session")
        defer { for p in [headlessPath, sessionPath] { try? FileManager.default.removeItem(atPath: p) } }

        let log = EventLog()
        let headless = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: try RunDirectory.create(headlessPath, config: cfg),
                                         events: log.record)
        #expect(headless.runToEnd())
        #expect(log.epochOrder == ["CPO 1", "DR-CPO 1", "CPO 2", "DR-CPO 2"])
        #expect(log.saves == ["saved after preparation", "saved after CPO epoch 1", "saved after DR-CPO epoch 1",
                              "saved after CPO epoch 2", "saved after DR-CPO epoch 2"])

        let lines = Mutex<[String]>([])
        let session = LabSession(config: cfg, runDirectory: try RunDirectory.create(sessionPath, config: cfg),
                                 onEvent: { line in lines.withLock { $0.append(line) } })
        session.start()
        _ = try #require(waitFor(session) { $0.phase == .idle })
        session.send(.run)
        let done = try #require(waitFor(session) { s in
            s.phase == .idle && s.messages.contains { $0.hasPrefix("every method has trained") }
        })
        session.send(.cancel)
        session.waitUntilFinished()

        for m in cfg.methods {
            let a = comparable(headless.experiment.metrics[m] ?? []), b = comparable(done.method(m)?.epochs ?? [])
            #expect(a.count == (m.trains ? 3 : 1) && a == b, "\(m): the session's metrics differ from the headless run's")
            #expect(headless.experiment.steps[m] == done.method(m)?.steps, "\(m) steps differ")
        }
        let epochLines = lines.withLock { $0 }.filter { $0.contains(" epoch ") && $0.contains("V_DR") }.map { $0.prefix { $0 != ":" } }
        #expect(epochLines == ["CPO epoch 1", "DR-CPO epoch 1", "CPO epoch 2", "DR-CPO epoch 2"])
        #expect(done.lastSave?.message.hasPrefix("saved after DR-CPO epoch 2") == true)
        let metrics = { (p: String) in
            (try? String(contentsOfFile: p + "/metrics.jsonl", encoding: .utf8))?.split(separator: "\n").map { line in
                String(line).replacingOccurrences(of: #""seconds":[-0-9.e+]+,?"#, with: "", options: .regularExpression)
            } ?? []
        }
        #expect(!metrics(headlessPath).isEmpty && metrics(headlessPath) == metrics(sessionPath))
    }

    /// A run whose methods stand at different epochs (the dashboard stepped one of them) and
    /// is resumed brings the laggard up first, and ends where a straight run ends, bit for bit.
    @Test func theScheduleCatchesUpAndResumesExactly() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo, .drCPO])
        cfg.epochs = 2
        let straight = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, events: { _ in })
        #expect(straight.runToEnd())

        let path = temporaryRunPath("driver-uneven")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dir = try RunDirectory.create(path, config: cfg)
        let first = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: dir, events: { _ in })
        #expect(first.nextScheduledMethod == .cpo)
        first.trainEpoch(.cpo)
        _ = first.generate(.cpo, prefix: "")   // saved with the next save, and resumed
        first.trainEpoch(.cpo)
        #expect(first.nextScheduledMethod == .drCPO)

        let log = EventLog()
        let resumed = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: dir, events: log.record)
        #expect(resumed.generationRequests == 1)
        #expect(resumed.lastSave?.message == "resumed from \(dir.checkpointPath(seed: cfg.seed))")
        #expect(log.saves.isEmpty, "a resumed run was saved before it changed")
        #expect(log.events.contains { if case .log(let l) = $0 { return l.hasSuffix("at epochs: CPO 2, DR-CPO 0") }; return false })
        #expect(resumed.runToEnd())
        #expect(log.epochOrder == ["DR-CPO 1", "DR-CPO 2"])
        #expect(resumed.advance() == .finished)
        for m in cfg.methods {
            #expect(comparable(straight.experiment.metrics[m] ?? []) == comparable(resumed.experiment.metrics[m] ?? []), "\(m)")
            #expect(straight.experiment.steps[m] == resumed.experiment.steps[m], "\(m)")
        }
    }

    /// Cancelling mid-epoch ends the epoch unevaluated and unsaved: the save on disk is the
    /// last completed epoch's.
    @Test func aCancelledEpochIsNotSaved() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let path = temporaryRunPath("driver-cancel")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dir = try RunDirectory.create(path, config: cfg)
        let stop = Atomic<Bool>(false)
        let log = EventLog()
        let run = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: dir, cancelled: { stop.load(ordering: .relaxed) },
                                    events: { e in
                                        log.record(e)
                                        if case .step(_, let r) = e, r.step == 3 { stop.store(true, ordering: .relaxed) }
                                    })
        #expect(run.advance() == .cancelled)
        #expect(log.saves == ["saved after preparation"])
        #expect(try dir.info(seed: cfg.seed).epochs["CPO"] == 0)
        #expect(log.events.contains { if case .epochEnded(let m, nil) = $0 { return m.method == .cpo }; return false })
    }

    @Test func aRunThatCannotStartSaysWhy() {
        var cfg = tinyConfig()
        cfg.source = .world("/nonexistent/world.toml")
        do {
            _ = try SeedRun.start(config: cfg, seed: 0, runDirectory: nil, events: { _ in })
            Issue.record("a run on a missing world started")
        } catch {
            #expect(error.description.contains("/nonexistent/world.toml"))
        }
    }
}
