import TinyLM

/// The model's shape as the training texts decide it (`LabConfig.fitContext`,
/// `fitVocabulary`), and how many texts its context cuts.
///
/// - **Context**: the longest training text as the model reads it (BOS, its tokens, EOS: the
///   model takes all but the last as input, so `tokens + 1` positions), rounded up to a multiple
///   of `contextMultiple`, at most the configured `model.contextLength` (by default
///   `LabConfig.maxFittedContext`, 256). Without fitting, the configured length.
/// - **Vocabulary**: the tokenizer's: BPE stops merging when no pair occurs twice, so a small
///   or repetitive corpus learns fewer ids than `model.vocabSize` asks; the model then gets
///   exactly the ids that exist instead of rows no text ever uses. Without fitting, the
///   configured size.
///
/// A text longer than the context is cut (no EOS: its probability is that of the prefix; the
/// same for every model); the counts say how many, per part of the data, and how many of FT's
/// own f0 texts ran into the context before EOS.
public struct ModelFit: Sendable, Hashable {
    /// Fitted contexts are a multiple of this many tokens.
    public static let contextMultiple = 16
    /// The share of FT's f0 texts cut by the context above which a run warns (a sampled text
    /// now and then runs on; many mean the context or FT is wrong for the data).
    public static let f0CutWarning = 0.01

    /// Texts of one part of the data, and how many of them the context cuts.
    public struct Cut: Sendable, Hashable {
        public var part: String
        public var cut: Int
        public var count: Int
    }

    /// The model every method trains: the configuration's, with the context and vocabulary fitted.
    public var model: ModelConfig
    public var contextFitted: Bool
    public var vocabularyFitted: Bool
    /// The longest training text, in tokens (without BOS and EOS).
    public var longestTrainingTokens: Int
    /// Training, validation and held-out texts cut by the context (parts without rows left out).
    public var cuts: [Cut]
    /// FT's f0 texts that reached the context before EOS (nil before they are sampled).
    public var f0Cut: Cut?

    /// The shape of the model for `config`, given the trained tokenizer and the training texts.
    public static func shape(_ config: LabConfig, tokenizer: BPETokenizer, trainingTexts: [String]) -> ModelConfig {
        var model = config.model
        if config.fitVocabulary { model.vocabSize = min(config.model.vocabSize, tokenizer.vocabSize) }
        if config.fitContext {
            let longest = trainingTexts.map { tokenizer.encode($0).count }.max() ?? 0
            model.contextLength = TextCodec.contextLength(covering: longest, multiple: contextMultiple, cap: config.model.contextLength)
        }
        return model
    }

    /// How the model of `codec` fits the texts of each part of the data (training first).
    public init(_ config: LabConfig, model: ModelConfig, codec: TextCodec, parts: [(name: String, texts: [String])]) {
        self.model = model
        contextFitted = config.fitContext
        vocabularyFitted = config.fitVocabulary
        var longest = 0
        cuts = []
        for (k, p) in parts.enumerated() where !p.texts.isEmpty {
            let counts = p.texts.map { codec.tokenizer.encode($0).count }
            if k == 0 { longest = counts.max() ?? 0 }
            cuts.append(Cut(part: p.name, cut: counts.filter { codec.cuts(textTokens: $0) }.count, count: counts.count))
        }
        longestTrainingTokens = longest
    }

    /// Records how many of FT's f0 texts (`sequences`, prompt and continuation) end without EOS.
    public mutating func countF0(_ sequences: [[Int32]]) {
        f0Cut = Cut(part: "FT's f0", cut: sequences.filter { $0.last != BPETokenizer.eos }.count, count: sequences.count)
    }

    /// "context 64 tokens (fitted: longest training text 47 tokens + BOS/EOS, rounded up to 16); vocabulary 512
    /// (what the tokenizer learned); cut by the context: training 0 of 2000, validation 0 of 250, held-out 0 of 500,
    /// FT's f0 12 of 8000"
    public var summary: String {
        var s = "context \(model.contextLength) tokens ("
        s += contextFitted
            ? "fitted: longest training text \(longestTrainingTokens) tokens + BOS/EOS, rounded up to \(Self.contextMultiple))"
            : "as configured; longest training text \(longestTrainingTokens) tokens + BOS/EOS)"
        s += "; vocabulary \(model.vocabSize)" + (vocabularyFitted ? " (what the tokenizer learned)" : "")
        s += "; cut by the context: " + (cuts + (f0Cut.map { [$0] } ?? [])).map { "\($0.part) \($0.cut) of \($0.count)" }
            .joined(separator: ", ")
        return s
    }

    /// One warning per part of the data with cut texts, and one when FT's f0 texts run into the
    /// context, saying what to do.
    public var warnings: [String] {
        func share(_ c: Cut) -> String { String(format: "%.1f%%", 100 * Double(c.cut) / Double(max(1, c.count))) }
        var out = cuts.filter { $0.cut > 0 }.map { c in
            "\(c.cut) of \(c.count) \(c.part) texts (\(share(c))) are longer than the \(model.contextLength)-token context and are "
                + "cut (no EOS; the same for every model). A longer --context N keeps more of them whole, at more cost."
        }
        if let f = f0Cut, Double(f.cut) > Self.f0CutWarning * Double(f.count) {
            out.append("\(f.cut) of \(f.count) of FT's f0 texts (\(share(f))) ran to the \(model.contextLength)-token context "
                + "without ending (EOS): FT writes longer texts than the context holds, or has not learned to end them.")
        }
        return out
    }
}
