/// TinyLM: a small decoder-only transformer trained on the CPU, with hand-written forward and
/// backward passes, a byte-level BPE tokenizer, AdamW, KV-cache sampling and weight files.
public enum TinyLMInfo {
    public static let summary = "tiny transformer language model"
}
