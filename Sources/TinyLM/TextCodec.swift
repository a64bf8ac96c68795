/// Turns texts into the token sequences the model trains on and scores, in one place, so the
/// policy, the FT model (P^R) and the f0 generator always see the same tokenization and the
/// same truncation (CausalPO.docc/Methods.md, "Sequence log-probabilities": log-probabilities must be comparable).
public struct TextCodec: Sendable, Equatable {
    public let tokenizer: BPETokenizer
    public let contextLength: Int

    public init(tokenizer: BPETokenizer, contextLength: Int) {
        self.tokenizer = tokenizer
        self.contextLength = contextLength
    }

    /// BOS, the text's tokens, EOS: at most contextLength + 1 tokens. A longer text is cut and
    /// then has no EOS (its probability is that of the prefix).
    public func sequence(for text: String) -> [Int32] {
        var s: [Int32] = [BPETokenizer.bos]
        s.append(contentsOf: tokenizer.encode(text))
        s.append(BPETokenizer.eos)
        if s.count > contextLength + 1 { s.removeLast(s.count - (contextLength + 1)) }
        return s
    }

    /// The context that holds a text of `textTokens` tokens whole: BOS, the tokens and EOS are
    /// `textTokens + 2` tokens, of which the model reads all but the last (`sequence(for:)` keeps
    /// `contextLength + 1`). Rounded up to a multiple of `multiple`, at least `multiple`, at most
    /// `cap`.
    public static func contextLength(covering textTokens: Int, multiple: Int, cap: Int) -> Int {
        precondition(multiple >= 1 && cap >= 1, "the multiple and the cap must be positive")
        let needed = max(1, textTokens + 1)
        return min(cap, (needed + multiple - 1) / multiple * multiple)
    }

    /// Whether `sequence(for:)` cuts a text of `textTokens` tokens (it then has no EOS).
    public func cuts(textTokens: Int) -> Bool { textTokens + 2 > contextLength + 1 }

    /// BOS and the prefix's tokens, cut to leave room for at least one generated token.
    public func prompt(for prefix: String) -> [Int32] {
        var s: [Int32] = [BPETokenizer.bos]
        s.append(contentsOf: tokenizer.encode(prefix))
        if s.count > contextLength { s.removeLast(s.count - contextLength) }
        return s
    }

    /// The text of tokens, without specials.
    public func text(_ tokens: some Sequence<Int32>) -> String {
        tokenizer.decode(Array(tokens))
    }
}

/// A sampled text continuation.
public struct TextSample: Sendable, Hashable {
    public var prompt: String
    /// The generated text (without specials).
    public var completion: String
    /// log P of the generated tokens under the model (temperature 1, no top-k).
    public var logProb: Double
    /// Ended with EOS rather than at the length limit.
    public var finished: Bool
    /// The full token sequence, BOS … (EOS), as `Transformer.forward` scores it.
    public var sequence: [Int32]
}

extension Transformer {
    /// Continuations of text prefixes (an empty prefix samples from scratch), one per prefix.
    public func sampleTexts(prefixes: [String], codec: TextCodec, options: SamplingOptions, seed: UInt64) -> [TextSample] {
        let prompts = prefixes.map { codec.prompt(for: $0) }
        return zip(prefixes, sample(prompts: prompts, options: options, seed: seed)).map { prefix, s in
            TextSample(prompt: prefix, completion: codec.text(s.generated), logProb: s.logProb,
                       finished: s.finished, sequence: s.sequence)
        }
    }
}
