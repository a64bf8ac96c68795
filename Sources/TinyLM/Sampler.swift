import CPOSupport
import Dispatch
import Foundation

/// How to draw continuations.
public struct SamplingOptions: Sendable, Hashable, Codable {
    /// Softmax temperature; 0 means greedy (argmax, ties to the lowest id).
    public var temperature: Float
    /// Sample only among the k most likely tokens; 0 means the whole vocabulary.
    public var topK: Int
    /// Tokens to generate at most (also bounded by the context length).
    public var maxNewTokens: Int
    /// Stop a sequence when it emits EOS.
    public var stopAtEOS: Bool

    public init(temperature: Float = 1, topK: Int = 0, maxNewTokens: Int = 64, stopAtEOS: Bool = true) {
        self.temperature = temperature
        self.topK = topK
        self.maxNewTokens = maxNewTokens
        self.stopAtEOS = stopAtEOS
    }
}

/// One sampled continuation.
public struct Sample: Sendable, Hashable {
    /// The prompt followed by the generated tokens (EOS included when it was drawn): a sequence
    /// `Transformer.forward` accepts and scores exactly as it was drawn.
    public var sequence: [Int32]
    /// How many tokens of `sequence` are the prompt.
    public var promptLength: Int
    /// Σ log p(token) of the generated tokens under the model itself (temperature 1, no top-k):
    /// the `logP^f` of this continuation that importance weights need.
    public var logProb: Double
    /// Σ log q(token) under the distribution actually sampled from (temperature, top-k).
    public var samplingLogProb: Double
    /// Ended with EOS (rather than at the length limit).
    public var finished: Bool
    /// Σ log p(prompt token | earlier prompt tokens) under the model, for the prompt's tokens
    /// after the first: read off the logits the decoder computes anyway.
    public var promptLogProb: Double

    public var generated: ArraySlice<Int32> { sequence[promptLength...] }

    /// log P(sequence) under the model: what `Transformer.forward` returns for `sequence`.
    public var sequenceLogProb: Double { promptLogProb + logProb }
}

extension Transformer {
    /// Draws one continuation per prompt with a KV cache. Each prompt is a token sequence that
    /// starts with BOS (at least one token, at most the context length). Deterministic for a
    /// given seed: row i uses its own random stream, so results do not depend on batching or
    /// threads.
    public func sample(prompts: [[Int32]], options: SamplingOptions, seed: UInt64) -> [Sample] {
        guard !prompts.isEmpty else { return [] }
        for p in prompts {
            precondition(!p.isEmpty && p.count <= config.contextLength, "prompt length \(p.count) outside 1...\(config.contextLength)")
        }
        // Each shard decodes its share of the prompts with at most `samplingChunk / shards` rows
        // in flight (the KV cache scales with them): a row that finishes takes the next prompt.
        // Row streams are keyed by the prompt's index, and rows never see each other, so how
        // prompts share the rows changes no sample.
        let nShards = min(compute.threads, prompts.count)
        let perShard = max(1, compute.threads / nShards)
        let slots = max(1, Self.samplingChunk / nShards)
        let ranges = (0..<nShards).map { i in (prompts.count * i / nShards)..<(prompts.count * (i + 1) / nShards) }
        // The tied head reads wteᵀ [C, V] every step: transpose it once for the whole call.
        let headT = headTransposed()
        nonisolated(unsafe) var shardResults = [[Sample]](repeating: [], count: nShards)
        let work = { (i: Int) in
            let c = Compute(path: self.compute.path, threads: perShard)!
            let decoder = Decoder(model: self, rows: min(slots, ranges[i].count), compute: c, headT: headT)
            shardResults[i] = decoder.run(prompts: Array(prompts[ranges[i]]), firstRow: ranges[i].lowerBound,
                                          options: options, seed: seed)
        }
        if nShards == 1 {
            work(0)
        } else {
            nonisolated(unsafe) let work = work
            DispatchQueue.concurrentPerform(iterations: nShards) { work($0) }
        }
        return shardResults.flatMap { $0 }
    }

    /// Rows decoded together at most (over all shards): the KV caches hold this many sequences.
    static let samplingChunk = 256

    /// The output head as a [C, V] matrix (a transposed copy of wte when tied).
    func headTransposed() -> FloatBuffer {
        let c = config.dModel, v = config.vocabSize
        let out = FloatBuffer(count: c * v)
        if let head = layout.head {
            out.pointer.update(from: params.pointer + head, count: c * v)
        } else {
            let w = params.pointer + layout.wte
            for j in 0..<v { for i in 0..<c { out.pointer[i * v + j] = w[j * c + i] } }
        }
        return out
    }
}

/// Incremental decoding state for a group of rows: KV caches and one-row activations.
final class Decoder {
    let model: Transformer
    let compute: Compute
    let rows: Int
    let headT: FloatBuffer
    let buf: FloatBuffer
    let x, ln, qkv, atty, fch, logits, kCache, vCache, scratch, ws: Int
    var positions: [Int32]

    init(model: Transformer, rows: Int, compute: Compute, headT: FloatBuffer) {
        self.model = model
        self.compute = compute
        self.rows = rows
        self.headT = headT
        let cfg = model.config
        let c = cfg.dModel, m = cfg.mlpWidth, v = cfg.vocabSize, ctx = cfg.contextLength
        var off = 0
        func take(_ n: Int) -> Int { let o = off; off += (n + 15) & ~15; return o }
        x = take(rows * c); ln = take(rows * c); qkv = take(rows * 3 * c); atty = take(rows * c)
        fch = take(rows * m); logits = take(rows * v)
        kCache = take(cfg.layers * rows * ctx * c); vCache = take(cfg.layers * rows * ctx * c)
        scratch = take(max(ctx, v, 2 * rows))
        ws = take([compute.gemmWorkspaceSize(m: rows, n: 3 * c, k: c), compute.gemmWorkspaceSize(m: rows, n: c, k: c),
                   compute.gemmWorkspaceSize(m: rows, n: m, k: c), compute.gemmWorkspaceSize(m: rows, n: c, k: m),
                   compute.gemmWorkspaceSize(m: rows, n: v, k: c)].max()!)
        buf = FloatBuffer(count: off)
        positions = [Int32](repeating: 0, count: rows)
    }

    func p(_ o: Int) -> UnsafeMutablePointer<Float> { buf.pointer + o }

    /// Runs the network on one token per row (row r at position positions[r]); leaves logits.
    func step(tokens: [Int32]) {
        let cfg = model.config, L = model.layout, P = model.params.pointer, ops = compute.ops
        let c = cfg.dModel, m = cfg.mlpWidth, v = cfg.vocabSize, ctx = cfg.contextLength
        let th = compute.threads, w = p(ws)
        for r in 0..<rows {
            let e = P + L.wte + Int(tokens[r]) * c, pe = P + L.wpe + Int(positions[r]) * c
            let o = p(x) + r * c
            for i in 0..<c { o[i] = e[i] + pe[i] }
        }
        for (l, bl) in L.blocks.enumerated() {
            ops.layerNormForward(out: p(ln), mean: p(scratch), rstd: p(scratch) + rows, inp: p(x),
                                 weight: P + bl.ln1w, bias: P + bl.ln1b, rows: rows, c: c, threads: th)
            compute.sgemm(transA: false, transB: false, m: rows, n: 3 * c, k: c, a: p(ln), lda: c,
                          b: P + bl.qkvw, ldb: 3 * c, c: p(qkv), ldc: 3 * c, beta: 0, workspace: w)
            ops.addBias(out: p(qkv), bias: P + bl.qkvb, rows: rows, n: 3 * c)
            positions.withUnsafeBufferPointer { pos in
                ops.attentionDecode(out: p(atty), qkv: p(qkv), kCache: p(kCache) + l * rows * ctx * c,
                                    vCache: p(vCache) + l * rows * ctx * c, positions: pos.baseAddress!,
                                    rows: rows, ctx: ctx, c: c, h: cfg.heads, scratch: p(scratch))
            }
            ops.addBias(out: p(x), bias: P + bl.projb, rows: rows, n: c)
            compute.sgemm(transA: false, transB: false, m: rows, n: c, k: c, a: p(atty), lda: c,
                          b: P + bl.projw, ldb: c, c: p(x), ldc: c, beta: 1, workspace: w)
            ops.layerNormForward(out: p(ln), mean: p(scratch), rstd: p(scratch) + rows, inp: p(x),
                                 weight: P + bl.ln2w, bias: P + bl.ln2b, rows: rows, c: c, threads: th)
            compute.sgemm(transA: false, transB: false, m: rows, n: m, k: c, a: p(ln), lda: c,
                          b: P + bl.fcw, ldb: m, c: p(fch), ldc: m, beta: 0, workspace: w)
            ops.addBias(out: p(fch), bias: P + bl.fcb, rows: rows, n: m)
            ops.geluForward(out: p(fch), inp: p(fch), n: rows * m, threads: th)
            ops.addBias(out: p(x), bias: P + bl.fcprojb, rows: rows, n: c)
            compute.sgemm(transA: false, transB: false, m: rows, n: c, k: m, a: p(fch), lda: m,
                          b: P + bl.fcprojw, ldb: c, c: p(x), ldc: c, beta: 1, workspace: w)
        }
        ops.layerNormForward(out: p(ln), mean: p(scratch), rstd: p(scratch) + rows, inp: p(x),
                             weight: P + L.lnfw, bias: P + L.lnfb, rows: rows, c: c, threads: th)
        compute.sgemm(transA: false, transB: false, m: rows, n: v, k: c, a: p(ln), lda: c,
                      b: headT.pointer, ldb: v, c: p(logits), ldc: v, beta: 0, workspace: w)
    }

    /// Draws one continuation per prompt (`prompts.count` ≥ `rows`): each row decodes a prompt
    /// and, when it finishes, takes the next one, until none is left. Prompt p draws from its own
    /// stream, keyed by `firstRow` plus its index.
    func run(prompts: [[Int32]], firstRow: Int, options: SamplingOptions, seed: UInt64) -> [Sample] {
        let cfg = model.config, v = cfg.vocabSize
        precondition(prompts.count >= rows, "a prompt per row at least")
        var seqs = prompts
        var logProb = [Double](repeating: 0, count: prompts.count), qLogProb = logProb, promptLogProb = logProb
        var finished = [Bool](repeating: false, count: prompts.count)
        // The prompt each row decodes (nil once none is left), its random stream, and its next input.
        var current = [Int?](repeating: nil, count: rows)
        var rngs = [SeededRandom](repeating: SeededRandom(seed: 0), count: rows)
        var next = [Int32](repeating: 0, count: rows)
        var waiting = 0
        func start(_ r: Int) {
            positions[r] = 0
            guard waiting < prompts.count else { current[r] = nil; return }
            let i = waiting
            waiting += 1
            current[r] = i
            rngs[r] = SeededRandom(seed: SeededRandom.derivedSeed(seed, "sample-row-\(firstRow + i)"))
            next[r] = prompts[i][0]
        }
        for r in 0..<rows { start(r) }
        let logp = UnsafeMutablePointer<Float>.allocate(capacity: v)
        let q = UnsafeMutablePointer<Float>.allocate(capacity: v)
        defer { logp.deallocate(); q.deallocate() }
        var order = [Int32](repeating: 0, count: v)
        while current.contains(where: { $0 != nil }) {
            step(tokens: next)
            for r in 0..<rows {
                guard let i = current[r] else { continue }
                let pos = Int(positions[r])
                let nextPos = pos + 1
                if nextPos < prompts[i].count {
                    next[r] = prompts[i][nextPos]     // still reading the prompt
                    positions[r] = Int32(nextPos)
                    let z = p(logits) + r * v
                    logp.update(from: z, count: v)
                    compute.ops.logSoftmaxRows(logits: logp, rows: 1, v: v, scratch: p(scratch), threads: 1)
                    promptLogProb[i] += Double(logp[Int(next[r])])
                    continue
                }
                // Sample the token that follows position pos.
                let z = p(logits) + r * v
                logp.update(from: z, count: v)
                compute.ops.logSoftmaxRows(logits: logp, rows: 1, v: v, scratch: p(scratch), threads: 1)
                let (tok, lq) = draw(logp: logp, q: q, order: &order, options: options, rng: &rngs[r])
                seqs[i].append(tok)
                logProb[i] += Double(logp[Int(tok)])
                qLogProb[i] += lq
                let generated = seqs[i].count - prompts[i].count
                if options.stopAtEOS && tok == BPETokenizer.eos {
                    finished[i] = true
                    start(r)
                } else if generated >= options.maxNewTokens || seqs[i].count >= cfg.contextLength + 1 {
                    start(r)
                } else {
                    next[r] = tok
                    positions[r] = Int32(nextPos)
                }
            }
        }
        return prompts.indices.map {
            Sample(sequence: seqs[$0], promptLength: prompts[$0].count, logProb: logProb[$0],
                   samplingLogProb: qLogProb[$0], finished: finished[$0], promptLogProb: promptLogProb[$0])
        }
    }

    /// Draws a token from log-probs `logp` under the options; returns it and its log-probability
    /// under the sampling distribution.
    private func draw(logp: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>, order: inout [Int32],
                      options: SamplingOptions, rng: inout SeededRandom) -> (Int32, Double) {
        let v = model.config.vocabSize
        if options.temperature <= 0 {
            var best = 0
            for j in 1..<v where logp[j] > logp[best] { best = j }
            return (Int32(best), 0)
        }
        let invT = 1 / options.temperature
        // Candidate set: all tokens, or the top k by log-prob (ties to the lower id).
        var count = v
        if options.topK > 0 && options.topK < v {
            for j in 0..<v { order[j] = Int32(j) }
            count = options.topK
            order.withUnsafeMutableBufferPointer { o in
                selectTop(o.baseAddress!, v, count, logp)
            }
        }
        var mx = -Float.infinity
        for i in 0..<count {
            let j = count == v ? i : Int(order[i])
            q[i] = logp[j] * invT
            mx = max(mx, q[i])
        }
        var sum = 0.0
        for i in 0..<count { let e = exp(Double(q[i] - mx)); q[i] = Float(e); sum += e }
        var u = rng.uniform() * sum
        var pick = count - 1
        for i in 0..<count {
            u -= Double(q[i])
            if u < 0 { pick = i; break }
        }
        let tok = count == v ? pick : Int(order[pick])
        return (Int32(tok), log(Double(q[pick]) / sum))
    }
}

/// Moves the `k` largest entries of `key[order[·]]` (ties: lower id first) to order[0..<k].
private func selectTop(_ order: UnsafeMutablePointer<Int32>, _ n: Int, _ k: Int, _ key: UnsafePointer<Float>) {
    @inline(__always) func better(_ a: Int32, _ b: Int32) -> Bool {
        let ka = key[Int(a)], kb = key[Int(b)]
        return ka > kb || (ka == kb && a < b)
    }
    // Quickselect on the index array.
    var lo = 0, hi = n - 1
    while lo < hi {
        let pivot = order[(lo + hi) / 2]
        var i = lo, j = hi
        while i <= j {
            while better(order[i], pivot) { i += 1 }
            while better(pivot, order[j]) { j -= 1 }
            if i <= j { order.swapAt(i, j); i += 1; j -= 1 }
        }
        if k - 1 <= j { hi = j } else if k - 1 >= i { lo = i } else { break }
    }
}

private extension UnsafeMutablePointer where Pointee == Int32 {
    func swapAt(_ i: Int, _ j: Int) { let t = self[i]; self[i] = self[j]; self[j] = t }
}
