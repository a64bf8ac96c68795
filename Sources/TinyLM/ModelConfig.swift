/// The shape of a TinyLM transformer.
public struct ModelConfig: Codable, Sendable, Hashable {
    /// Tokens in the vocabulary, including the 256 bytes and the BOS/EOS/PAD specials.
    public var vocabSize: Int
    /// Longest input the model attends over (positions 0..<contextLength).
    public var contextLength: Int
    public var dModel: Int
    public var heads: Int
    public var layers: Int
    /// Hidden width of the MLP as a multiple of dModel (GPT-2: 4).
    public var mlpRatio: Int
    /// Output head shares the token embedding (logits = x · wteᵀ).
    public var tiedHead: Bool

    public init(vocabSize: Int = 1024, contextLength: Int = 128, dModel: Int = 128, heads: Int = 4,
                layers: Int = 2, mlpRatio: Int = 4, tiedHead: Bool = true) {
        self.vocabSize = vocabSize
        self.contextLength = contextLength
        self.dModel = dModel
        self.heads = heads
        self.layers = layers
        self.mlpRatio = mlpRatio
        self.tiedHead = tiedHead
    }

    /// The reference configuration of `cpo-tui bench` (TinyLM.docc/Kernels.md, "Anchors"): 470,528 parameters.
    public static let tiny = ModelConfig(vocabSize: 512, contextLength: 64, dModel: 128, heads: 4, layers: 2)

    public var headSize: Int { dModel / heads }
    public var mlpWidth: Int { dModel * mlpRatio }

    /// Checks that the shape is usable; the message says what to change.
    public func validate() throws(ModelConfigError) {
        if vocabSize < 259 { throw .invalid("vocabulary size \(vocabSize) is below 259 (256 bytes + BOS, EOS, PAD)") }
        if contextLength < 1 { throw .invalid("context length must be at least 1, got \(contextLength)") }
        if dModel < 1 || heads < 1 || layers < 1 || mlpRatio < 1 {
            throw .invalid("d_model, heads, layers and the MLP ratio must be positive")
        }
        if dModel % heads != 0 { throw .invalid("d_model \(dModel) is not divisible by the number of heads \(heads)") }
        // These bounds also keep every size computed from the shape (ParameterLayout) far from
        // Int overflow, whatever a weight file claims.
        if vocabSize > 1 << 20 || contextLength > 1 << 14 || dModel > 1 << 14 || layers > 256 || mlpRatio > 64 {
            throw .invalid("model shape is unreasonably large for a CPU lab (vocab \(vocabSize), context \(contextLength), d_model \(dModel), layers \(layers), MLP ratio \(mlpRatio))")
        }
    }
}

public enum ModelConfigError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    public var description: String {
        switch self { case .invalid(let s): return "invalid model configuration: \(s)" }
    }
}
