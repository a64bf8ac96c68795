import CausalPO
import Foundation
import Testing
@testable import Lab

/// FT's training steps reach the snapshot while preparation trains FT (the Loss panel draws
/// them live), and they are the steps FT's epochs average.
@Suite("FT's steps during preparation")
struct FTStepsTests {
    @Test func preparationPublishesFTsStepsAsTheyCome() throws {
        let cfg = tinyConfig(methods: [.ft, .cpo])
        let log = EventLog()
        let run = try SeedRun.start(config: cfg, seed: cfg.seed, runDirectory: nil, events: log.record)
        let exp = run.experiment
        let progress = log.events.compactMap { e -> PrepProgress? in
            if case .preparing(let p) = e { return p }
            return nil
        }
        // Every FT step comes with a progress event carrying every step so far; so do the end of
        // each epoch and of FT.
        let during = progress.filter { $0.stage == .ft && !$0.ftSteps.isEmpty }
        let stepsPerEpoch = (exp.data.train.count + cfg.batchSize - 1) / cfg.batchSize
        #expect(exp.ftSteps.count == stepsPerEpoch * exp.ftHistory.count && exp.ftSteps.count >= 2)
        var expected: [Int] = []
        for k in exp.ftHistory.indices {
            let end = (k + 1) * stepsPerEpoch
            expected += Array((end - stepsPerEpoch + 1)...end) + [end]
        }
        #expect(during.map(\.ftSteps.count) == expected + [exp.ftSteps.count])
        // (Compared by step, epoch and loss: FT reports no gradient norm, NaN, which is not == itself.)
        func key(_ r: [StepRecord]) -> [[Double]] { r.map { [Double($0.step), Double($0.epoch), $0.loss] } }
        #expect(during.allSatisfy { key($0.ftSteps) == key(Array(exp.ftSteps.prefix($0.ftSteps.count))) })
        #expect(exp.ftSteps.map(\.step) == Array(1...exp.ftSteps.count))
        // Each epoch's training loss is the mean of its steps' losses.
        for e in exp.ftHistory {
            let losses = exp.ftSteps.filter { $0.epoch == e.epoch }.map(\.loss)
            #expect(losses.count == stepsPerEpoch && abs(losses.reduce(0, +) / Double(losses.count) - e.trainLoss) < 1e-12)
        }
        // The message still names a step only every `ftProgressInterval` steps (and the first).
        let named = Set(during.map(\.message).filter { $0.hasPrefix("FT step") })
        #expect(named.count == 1 + exp.ftSteps.count / Experiment.ftProgressInterval)
        // The snapshot a session publishes once prepared keeps them.
        var snapshot = LabSnapshot(config: cfg, seed: cfg.seed)
        snapshot.showPrepared(exp)
        #expect(key(snapshot.ftSteps) == key(exp.ftSteps) && !exp.ftSteps.isEmpty)
    }

    /// The session's own snapshots: FT's steps during preparation (each `.preparing` event's
    /// steps become the snapshot's), and after it.
    @Test func theSessionsSnapshotHasFTsSteps() throws {
        let session = LabSession(config: tinyConfig(methods: [.ft, .cpo]))
        session.start()
        let ready = try #require(waitFor(session) { $0.phase == .idle })
        session.send(.cancel)
        session.waitUntilFinished()
        #expect(!ready.ftSteps.isEmpty && Set(ready.ftSteps.map(\.epoch)) == Set(ready.ftHistory.map(\.epoch)))
    }
}
