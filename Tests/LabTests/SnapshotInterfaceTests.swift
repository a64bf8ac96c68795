import CausalPO
import Foundation
import Lab
import OutcomeData
import Testing

/// The snapshot is the interface between `Lab` and `Dashboard`: this file imports `Lab`
/// without `@testable`, so it compiles only while every snapshot type can be built from outside.
@Suite("the snapshot interface")
struct SnapshotInterfaceTests {
    @Test func snapshotsAreBuiltAndComparedFromOutsideTheModule() {
        var cfg = LabConfig()
        cfg.methods = [.ft, .cpo]
        let plain = LabSnapshot(config: cfg, seed: 4)
        #expect(plain.methods.map(\.method) == [.ft, .cpo] && plain.methods.allSatisfy { $0.state == .waiting })
        #expect(plain.outcomeKind == nil && plain.lastSave == nil)
        if case .preparing(let stage, _, _) = plain.phase { #expect(stage == .data) } else { Issue.record("\(plain.phase)") }

        var s = plain
        s.outcomeKind = .binary
        s.phase = .running
        s.lastSave = SaveStatus(succeeded: false, message: "disk full", time: Date(timeIntervalSince1970: 0))
        s.methods[1] = MethodSnapshot(method: .cpo, state: .failed("NaN"), epoch: 2, skippedSteps: 20)
        s.generations[.cpo] = RequestedSamples(prefix: "Join", texts: [])
        #expect(s != plain)
        #expect(s.method(.cpo)?.epoch == 2 && s.method(.drCPO) == nil)
        #expect(s.generations[.cpo]?.prefix == "Join")
        #expect(LabSnapshot.messageLimit == 200)
        let commands: [LabCommand] = [.stepEpoch(nil), .run, .pause, .cancel, .generate(.cpo, prefix: ""), .writeReport("r"), .save]
        #expect(Set(commands).count == commands.count)
    }
}
