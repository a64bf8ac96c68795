import CausalPO
import Dashboard
import Foundation
import Lab
import Testing
@testable import Bridge

/// FT's step lines in another trainer's metrics.jsonl become the snapshot's `ftSteps`, as the
/// lab publishes FT's steps, so the Loss panel shows FT the same way in both.
@Suite struct WatchFTStepsTests {
    @Test func ftStepLinesAreFTsSteps() {
        var m = WatchModel(directory: "d")
        m.ingest(Array("""
            {"type":"ft_epoch","seed":0,"method_name":"FT","epoch":1,"trainLoss":3.0,"evalLoss":3.5,"seconds":1}
            {"type":"step","seed":0,"method_name":"FT","epoch":1,"step":1,"loss":4.0}
            {"type":"step","seed":0,"method_name":"FT","epoch":1,"loss":2.0}

            """.utf8))
        var s = m.snapshot()
        #expect(s.ftSteps.map(\.loss) == [4, 2] && s.ftSteps.map(\.step) == [1, 2] && s.ftSteps.map(\.epoch) == [1, 1])
        // FT is listed (it has lines), without steps of its own, as in the lab.
        #expect(s.methods.map(\.method) == [.ft] && s.method(.ft)?.steps.isEmpty == true)
        // Before any trained method has a step, the Loss panel draws FT's steps.
        let before = DashboardView.render(s, ViewState(), width: 120, height: 40).plainText()
        #expect(before.contains("FT train loss") && before.contains("Loss (FT, per step)"), "\(before)")
        m.ingest(Array("{\"type\":\"step\",\"seed\":0,\"method_name\":\"CPO\",\"epoch\":1,\"step\":1,\"loss\":-50}\n".utf8))
        s = m.snapshot()
        #expect(s.method(.cpo)?.steps.map(\.loss) == [-50] && s.ftSteps.count == 2)
        let after = DashboardView.render(s, ViewState(), width: 120, height: 40).plainText()
        #expect(!after.contains("FT train loss") && after.contains("━ CPO"))
    }
}
