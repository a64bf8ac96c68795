/// Where each tensor lives in the one contiguous parameter buffer (and, at the same offsets, in
/// the gradient and optimizer buffers). Weights are stored [in, out], so a linear layer is
/// `out = x · W + b`; the embedding `wte` is [vocab, d] and the tied head computes `x · wteᵀ`.
public struct ParameterLayout: Sendable, Hashable {
    /// Offsets of one transformer block's tensors.
    public struct Block: Sendable, Hashable {
        public let ln1w, ln1b, qkvw, qkvb, projw, projb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb: Int
    }

    public let config: ModelConfig
    public let wte: Int, wpe: Int
    public let blocks: [Block]
    public let lnfw: Int, lnfb: Int
    /// Offset of the untied output head [d, vocab], or nil when tied to `wte`.
    public let head: Int?
    public let count: Int
    /// Ranges that get weight decay (the matrices), the rest (biases, norms) do not.
    public let decayed: [Range<Int>]
    public let notDecayed: [Range<Int>]
    /// Every named tensor, in buffer order: (name, range). For tests and debugging.
    public let tensors: [(name: String, range: Range<Int>)]

    public static func == (a: ParameterLayout, b: ParameterLayout) -> Bool { a.config == b.config }
    public func hash(into h: inout Hasher) { h.combine(config) }

    public init(_ c: ModelConfig) {
        config = c
        let d = c.dModel, v = c.vocabSize, m = c.mlpWidth
        var off = 0
        var named: [(String, Range<Int>)] = []
        var decay: [Range<Int>] = [], noDecay: [Range<Int>] = []
        func take(_ name: String, _ n: Int, decayed: Bool) -> Int {
            let o = off
            off += n
            named.append((name, o..<off))
            if decayed { decay.append(o..<off) } else { noDecay.append(o..<off) }
            return o
        }
        wte = take("wte", v * d, decayed: true)
        wpe = take("wpe", c.contextLength * d, decayed: true)
        var bs: [Block] = []
        for l in 0..<c.layers {
            bs.append(Block(
                ln1w: take("h\(l).ln1.w", d, decayed: false), ln1b: take("h\(l).ln1.b", d, decayed: false),
                qkvw: take("h\(l).qkv.w", d * 3 * d, decayed: true), qkvb: take("h\(l).qkv.b", 3 * d, decayed: false),
                projw: take("h\(l).proj.w", d * d, decayed: true), projb: take("h\(l).proj.b", d, decayed: false),
                ln2w: take("h\(l).ln2.w", d, decayed: false), ln2b: take("h\(l).ln2.b", d, decayed: false),
                fcw: take("h\(l).fc.w", d * m, decayed: true), fcb: take("h\(l).fc.b", m, decayed: false),
                fcprojw: take("h\(l).fcproj.w", m * d, decayed: true), fcprojb: take("h\(l).fcproj.b", d, decayed: false)))
        }
        blocks = bs
        lnfw = take("lnf.w", d, decayed: false)
        lnfb = take("lnf.b", d, decayed: false)
        head = c.tiedHead ? nil : take("head.w", d * v, decayed: true)
        count = off
        decayed = decay
        notDecayed = noDecay
        tensors = named.map { (name: $0.0, range: $0.1) }
    }
}
