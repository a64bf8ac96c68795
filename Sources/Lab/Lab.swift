/// Lab: sessions that run the pipeline per method and publish immutable snapshots.
/// Filled by issue 5.
import CausalPO
import OutcomeData
import TinyLM

public enum LabInfo {
    public static let components = [OutcomeDataInfo.summary, CausalPOInfo.summary, TinyLMInfo.summary]
}
