import CausalPO
import Foundation
import Synchronization
import Testing
@testable import Lab

/// Polls `condition` on snapshots until it holds or `seconds` pass.
func waitFor(_ session: LabSession, seconds: Double = 60, _ condition: (LabSnapshot) -> Bool) -> LabSnapshot? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let s = session.snapshot()
        if condition(s) { return s }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return nil
}

@Suite("the lab session")
struct SessionTests {
    /// A session with a run directory saves after preparation and after each epoch, and a new
    /// session on the same directory goes on from there (the dashboard's --resume); `.save`
    /// writes on request.
    @Test func sessionsSaveAndResume() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo])
        cfg.epochs = 2
        let path = temporaryRunPath("session")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let dir = try RunDirectory.create(path, config: cfg)
        let first = LabSession(config: cfg, runDirectory: dir)
        first.start()
        let ready = try #require(waitFor(first) { $0.phase == .idle && $0.lastSave != nil })
        #expect(ready.runDirectory == path && ready.lastSave?.succeeded == true)
        #expect(try dir.info(seed: cfg.seed).epochs["CPO"] == 0)
        first.send(.stepEpoch(.cpo))
        let stepped = try #require(waitFor(first) { $0.method(.cpo)!.epoch == 1 && $0.lastSave?.message.contains("CPO epoch 1") == true })
        first.send(.cancel)
        first.waitUntilFinished()
        #expect(try dir.info(seed: cfg.seed).epochs["CPO"] == 1)

        let second = LabSession(config: cfg, runDirectory: dir)
        second.start()
        let resumed = try #require(waitFor(second) { $0.phase == .idle })
        #expect(resumed.method(.cpo)!.epoch == 1)
        #expect(resumed.method(.cpo)!.epochs == stepped.method(.cpo)!.epochs)
        #expect(resumed.method(.cpo)!.steps == stepped.method(.cpo)!.steps)
        #expect(resumed.lastSave?.message.hasPrefix("resumed from") == true)
        #expect(resumed.messages.contains { $0.contains("resumed from") })
        try FileManager.default.removeItem(atPath: dir.checkpointPath(seed: cfg.seed))
        second.send(.save)
        let saved = try #require(waitFor(second) { $0.lastSave?.message.contains("on request") == true })
        #expect(saved.lastSave?.succeeded == true && dir.hasCheckpoint(seed: cfg.seed))
        second.send(.cancel)
        second.waitUntilFinished()
    }

    @Test func stepRunPauseAndCancelFromAnotherThread() throws {
        var cfg = tinyConfig(methods: [.ft, .cpo, .drCPO])
        cfg.epochs = 2
        let events = Mutex<[String]>([])
        let session = LabSession(config: cfg, onEvent: { e in events.withLock { $0.append(e) } })
        // A reader hammering snapshots while the worker trains: versions never go back.
        let stop = Atomic<Bool>(false)
        let readerOK = Atomic<Bool>(true)
        defer { stop.store(true, ordering: .relaxed) }   // the reader must end even if an expectation fails
        let reader = Thread {
            var last = -1
            while !stop.load(ordering: .relaxed) {
                let v = session.snapshot().version
                if v < last { readerOK.store(false, ordering: .relaxed) }
                last = v
            }
        }
        reader.start()
        session.start()
        let ready = try #require(waitFor(session) { $0.phase == .idle })
        #expect(ready.ghatQuality != nil && !ready.ftHistory.isEmpty && ready.sourceLabel.hasPrefix("world:"))
        #expect(ready.methods.allSatisfy { $0.epochs.count == 1 && $0.epoch == 0 })   // FT's evaluation

        session.send(.stepEpoch(.cpo))
        let one = try #require(waitFor(session) { $0.method(.cpo)!.epoch == 1 && $0.method(.cpo)!.state == .idle })
        #expect(one.method(.drCPO)!.epoch == 0)
        #expect(!one.method(.cpo)!.steps.isEmpty && one.method(.cpo)!.epochs.count == 2)

        session.send(.run)
        let done = try #require(waitFor(session) { s in s.methods.allSatisfy { $0.epoch == ($0.method == .ft ? 0 : 2) } && s.phase == .idle })
        #expect(done.method(.drCPO)!.epochs.last!.epoch == 2)

        session.send(.cancel)
        session.waitUntilFinished()
        #expect(session.snapshot().phase == .finished)
        stop.store(true, ordering: .relaxed)
        let readerSawOrder = readerOK.load(ordering: .relaxed)
        #expect(readerSawOrder)
        #expect(events.withLock { $0 }.contains { $0.contains("CPO epoch 1") })
    }

    @Test func aBadConfigurationFailsVisibly() {
        var cfg = tinyConfig()
        cfg.source = .world("/nonexistent/world.toml")
        let session = LabSession(config: cfg)
        session.start()
        session.waitUntilFinished()
        guard case .failed(let message) = session.snapshot().phase else {
            Issue.record("expected a failed phase, got \(session.snapshot().phase)")
            return
        }
        #expect(message.contains("/nonexistent/world.toml"))
    }
}
