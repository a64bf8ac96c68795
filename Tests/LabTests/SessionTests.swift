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
