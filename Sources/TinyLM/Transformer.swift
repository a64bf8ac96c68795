import CPOSupport
import Dispatch

/// A decoder-only transformer (GPT-2 shape: learned positions, pre-LayerNorm blocks, causal
/// multi-head attention, GELU MLP, final LayerNorm, optionally tied output head) with
/// hand-written forward and backward passes over one contiguous parameter buffer.
///
/// Training has two phases so that any objective can sit between them:
/// `forward(_:)` returns per-sequence log-probabilities (and optionally per-token KL to a
/// reference model and entropy), then `backward(_:)` takes one coefficient per sequence for
/// each of those quantities and accumulates parameter gradients into `grads`.
///
/// A batch is split into shards, one per thread, each run through the whole network with
/// single-threaded kernels: no synchronisation inside a step, and the shard gradients are
/// summed at the end. Not thread-safe: use one model from one thread at a time (and models
/// that share a `Workspace` from one thread, one pass at a time).
public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let params: FloatBuffer
    public let grads: FloatBuffer
    public var compute: Compute

    /// Where this model's passes keep their activations (its own unless `shareWorkspace`).
    public private(set) var workspace = Workspace()
    private var shards: [Shard] { workspace.shards }
    private var pending: PendingBatch?

    /// A model with GPT-2 style initial weights drawn from `seed`.
    public init(config: ModelConfig, seed: UInt64, compute: Compute = Compute()) throws(ModelConfigError) {
        try config.validate()
        self.config = config
        self.layout = ParameterLayout(config)
        self.params = FloatBuffer(count: layout.count)
        self.grads = FloatBuffer(count: layout.count)
        self.compute = compute
        initializeWeights(seed: seed)
    }

    /// A model with the given parameters (e.g. loaded from a weight file).
    public init(config: ModelConfig, parameters: FloatBuffer, compute: Compute = Compute()) throws(ModelConfigError) {
        try config.validate()
        let layout = ParameterLayout(config)
        guard parameters.count == layout.count else {
            throw .invalid("parameter count \(parameters.count) does not match the configuration (\(layout.count))")
        }
        self.config = config
        self.layout = layout
        self.params = FloatBuffer(copying: parameters)
        self.grads = FloatBuffer(count: layout.count)
        self.compute = compute
    }

    /// An independent copy with the same parameters (gradients zero): every method trains its
    /// own copy of FT.
    public func copy() -> Transformer {
        // The configuration was validated when `self` was made.
        // swiftlint:disable:next force_try
        try! Transformer(config: config, parameters: params, compute: compute)
    }

    public var parameterCount: Int { layout.count }

    /// Makes this model keep its activations in `other`'s workspace, so that models used one
    /// after the other (a run's methods and FT) hold one set of activations, sized for the
    /// largest pass, instead of one each (TinyLM.docc/Memory.md). A pass of either overwrites
    /// the other's activations: `backward` refuses to run after another model's `forward`.
    public func shareWorkspace(with other: Transformer) {
        precondition(other.config == config, "models sharing a workspace have one shape")
        workspace = other.workspace
        pending = nil
    }

    public func zeroGrad() { grads.zero() }

    private func initializeWeights(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let p = params.pointer
        let residualScale = 1 / Double(2 * config.layers).squareRoot()
        for (name, range) in layout.tensors {
            if name.hasSuffix(".b") {
                for i in range { p[i] = 0 }
            } else if name.hasPrefix("lnf") || name.contains(".ln1.") || name.contains(".ln2.") {
                for i in range { p[i] = 1 }
            } else {
                let sd = 0.02 * ((name.hasSuffix("proj.w")) ? residualScale : 1)
                for i in range { p[i] = Float(rng.gaussian() * sd) }
            }
        }
    }

    // MARK: - batches

    /// Per-sequence results of `forward`.
    public struct ForwardResult: Sendable {
        /// log P(x_i) = Σ_t log softmax(logits_{t−1})[x_t] over the sequence's real tokens.
        public var logProbs: [Double]
        /// Number of predicted tokens per sequence (its length minus one).
        public var tokenCounts: [Int]
        /// Σ_t KL(p_f(·|x_<t) ‖ p_ref(·|x_<t)) per sequence, when a reference was given.
        public var klSums: [Double]?
        /// Σ_t H(p_f(·|x_<t)) per sequence, when requested.
        public var entropySums: [Double]?
        /// Total predicted tokens in the batch.
        public var totalTokens: Int { tokenCounts.reduce(0, +) }
    }

    /// Coefficients for `backward`, one per sequence: dLoss/dlogP(x_i), and dLoss/d(KL sum),
    /// dLoss/d(entropy sum) of that sequence.
    public struct Coefficients: Sendable {
        public var logProb: [Float]
        public var kl: [Float]?
        public var entropy: [Float]?
        public init(logProb: [Float], kl: [Float]? = nil, entropy: [Float]? = nil) {
            self.logProb = logProb
            self.kl = kl
            self.entropy = entropy
        }
    }

    private struct PendingBatch {
        var shardRanges: [Range<Int>]
        var hasReference: Bool
        var hasEntropy: Bool
    }

    /// Runs the network on `sequences` (token ids; each is BOS … EOS with 2…contextLength+1
    /// tokens: inputs are all but the last token, targets all but the first) and keeps the
    /// activations for `backward`. With `reference`, also per-token KL(self ‖ reference).
    /// `training`: the forward of a training step, whose matrix multiplies (the reference's
    /// too) run at the training precision (`Compute.forTraining`: bf16 products on the
    /// `avx512-bf16` path); otherwise fp32, as evaluation needs. `backward` always multiplies at
    /// the training precision.
    /// A sequence's results are the same bits in any batch: no kernel mixes the rows of a batch.
    public func forward(_ sequences: [[Int32]], reference: Transformer? = nil, entropy: Bool = false,
                        training: Bool = false) -> ForwardResult {
        precondition(!sequences.isEmpty, "empty batch")
        for s in sequences {
            precondition(s.count >= 2 && s.count <= config.contextLength + 1,
                         "sequence length \(s.count) outside 2...\(config.contextLength + 1)")
        }
        if let reference { precondition(reference.config == config, "reference model has another shape") }
        let nShards = min(compute.threads, sequences.count)
        let ranges = (0..<nShards).map { i in
            (sequences.count * i / nShards)..<(sequences.count * (i + 1) / nShards)
        }
        ensureShards(nShards)
        // The reference runs in this workspace's reference shards, beside this model's own.
        if reference != nil { workspace.ensureReferenceShards(nShards, config: config) }
        let perShardThreads = max(1, compute.threads / nShards)
        var result = ForwardResult(
            logProbs: [Double](repeating: 0, count: sequences.count),
            tokenCounts: sequences.map { $0.count - 1 },
            klSums: reference != nil ? [Double](repeating: 0, count: sequences.count) : nil,
            entropySums: entropy ? [Double](repeating: 0, count: sequences.count) : nil)
        let shards = self.shards
        let refShards = reference != nil ? workspace.referenceShards : nil
        runShards(nShards) { i in
            let shard = shards[i]
            let seqs = Array(sequences[ranges[i]])
            let fp32 = Compute(path: self.compute.path, threads: perShardThreads)!
            let c = training ? fp32.forTraining : fp32
            shard.prepare(seqs, withReference: reference != nil, compute: c)
            if let reference, let refShards {
                refShards[i].referenceLogSoftmax(model: reference, inputsFrom: shard, compute: c)
            }
            shard.forward(model: self, compute: c)
            let refLogp = refShards.map { $0[i].act.ptr($0[i].act.logits) }
            shard.headStats(compute: c, refLogp: refLogp, entropy: entropy)
        }
        for (i, range) in ranges.enumerated() {
            shards[i].collect(into: &result, offset: range.lowerBound)
        }
        pending = PendingBatch(shardRanges: ranges, hasReference: reference != nil, hasEntropy: entropy)
        workspace.lastForward = ObjectIdentifier(self)
        return result
    }

    /// Accumulates dLoss/dparams into `grads` for the batch of the last `forward`, given one
    /// coefficient per sequence for each quantity `forward` returned.
    public func backward(_ coefficients: Coefficients) {
        guard let pending else { preconditionFailure("backward without forward") }
        precondition(workspace.lastForward == ObjectIdentifier(self),
                     "backward after another model's forward in the same workspace overwrote the activations")
        let n = pending.shardRanges.last!.upperBound
        precondition(coefficients.logProb.count == n, "one logProb coefficient per sequence")
        if let k = coefficients.kl {
            precondition(pending.hasReference, "KL coefficients need a forward with a reference")
            precondition(k.count == n)
        }
        if let e = coefficients.entropy {
            precondition(pending.hasEntropy, "entropy coefficients need forward(entropy: true)")
            precondition(e.count == n)
        }
        let nShards = pending.shardRanges.count
        let perShardThreads = max(1, compute.threads / nShards)
        let shards = self.shards
        runShards(nShards) { i in
            let c = Compute(path: self.compute.path, threads: perShardThreads)!.forTraining
            let r = pending.shardRanges[i]
            let shard = shards[i]
            let g = i == 0 ? self.grads : shard.gradsBuffer(count: self.layout.count)
            if i > 0 { g.zero() }
            shard.setCoefficients(
                logProb: Array(coefficients.logProb[r]),
                kl: coefficients.kl.map { Array($0[r]) },
                entropy: coefficients.entropy.map { Array($0[r]) })
            shard.backward(model: self, grads: g, compute: c)
        }
        // Sum the other shards' gradients into `grads`.
        let t0 = DispatchTime.now().uptimeNanoseconds
        for i in 1..<max(1, nShards) {
            let src = shards[i].gradsBuffer(count: layout.count)
            compute.ops.add(out: grads.pointer, grads.pointer, src.pointer, n: layout.count)
        }
        if profiling { extraPhaseNanos[StepPhase.gradientSum.rawValue] += DispatchTime.now().uptimeNanoseconds - t0 }
        self.pending = nil
    }

    /// Mean next-token cross-entropy over all real tokens of `sequences` (interface (a)).
    /// With `backward: true`, also accumulates its gradient into `grads` (a training step: the
    /// forward too runs at the training precision).
    @discardableResult
    public func nextTokenLoss(_ sequences: [[Int32]], backward doBackward: Bool = false) -> Double {
        let r = forward(sequences, training: doBackward)
        let n = Double(r.totalTokens)
        if doBackward {
            backward(Coefficients(logProb: [Float](repeating: Float(-1 / n), count: sequences.count)))
        }
        return -r.logProbs.reduce(0, +) / n
    }

    /// Per-phase timing of forward/backward (summed over shard threads), when enabled.
    public var profiling: Bool = false {
        didSet { for s in shards { s.profiling = profiling } }
    }

    /// Nanoseconds per phase since the last reset, summed over the shards' threads.
    public func phaseNanoseconds() -> [StepPhase: UInt64] {
        var out: [StepPhase: UInt64] = [:]
        for p in StepPhase.allCases {
            out[p] = shards.reduce(0) { $0 + $1.phaseNanos[p.rawValue] } + extraPhaseNanos[p.rawValue]
        }
        return out
    }

    public func resetPhaseTimes() {
        for s in shards { s.phaseNanos = s.phaseNanos.map { _ in 0 } }
        extraPhaseNanos = extraPhaseNanos.map { _ in 0 }
    }

    /// Time spent outside the shards (gradient sum, optimizer), when profiling.
    var extraPhaseNanos = [UInt64](repeating: 0, count: StepPhase.allCases.count)

    /// Bytes held by activations and scratch (for memory accounting; shared with the models
    /// that share the workspace).
    public var workspaceBytes: Int { workspace.byteCount }

    func ensureShards(_ n: Int) {
        while workspace.shards.count < n {
            let s = Shard(config: config)
            s.profiling = profiling
            workspace.shards.append(s)
        }
    }

    private func runShards(_ n: Int, _ body: (Int) -> Void) {
        if n == 1 {
            body(0)
        } else {
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: n) { body($0) }
        }
    }
}

/// The scratch memory of a model's passes: each shard's activations (and the gradients of
/// shards after the first), and the reference model's log-softmax when a pass measures KL to
/// one. Held by one model, or shared by models used one at a time (`Transformer.shareWorkspace`).
public final class Workspace: @unchecked Sendable {
    var shards: [Shard] = []
    /// Where a pass with a reference runs the reference model, one per shard.
    private(set) var referenceShards: [Shard] = []
    /// The model whose `forward` the activations hold (its `backward` may follow).
    var lastForward: ObjectIdentifier?

    public init() {}

    func ensureReferenceShards(_ n: Int, config: ModelConfig) {
        while referenceShards.count < n { referenceShards.append(Shard(config: config)) }
    }

    /// Bytes held (for memory accounting).
    public var byteCount: Int { (shards + referenceShards).reduce(0) { $0 + $1.byteCount } }
}

/// The parts of a training step, for `cpo-tui bench --breakdown`.
public enum StepPhase: Int, CaseIterable, Sendable {
    case embedding, layerNorm, matmul, attention, gelu, head, softmax, gradientSum, optimizer
    public var name: String {
        switch self {
        case .embedding: "embeddings"
        case .layerNorm: "layer norms"
        case .matmul: "linear layers (GEMM + bias)"
        case .attention: "attention"
        case .gelu: "GELU"
        case .head: "output head (GEMM)"
        case .softmax: "softmax / loss"
        case .gradientSum: "summing shard gradients"
        case .optimizer: "AdamW"
        }
    }
}

/// One shard of a batch: its activations, its sequence lengths and (for shards after the
/// first) its own gradient buffer.
final class Shard {
    let act: Activations
    var lengths: [Int] = []
    private var ownGrads: FloatBuffer?
    /// Nanoseconds spent per phase while `profiling` (see `Transformer.profile`).
    var phaseNanos = [UInt64](repeating: 0, count: StepPhase.allCases.count)
    var profiling = false

    @inline(__always)
    func timed(_ phase: StepPhase, _ body: () -> Void) {
        if !profiling { body(); return }
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        phaseNanos[phase.rawValue] &+= DispatchTime.now().uptimeNanoseconds &- t0
    }

    init(config: ModelConfig) { act = Activations(config: config) }

    var byteCount: Int { act.byteCount + (ownGrads?.byteCount ?? 0) }

    func gradsBuffer(count: Int) -> FloatBuffer {
        if let g = ownGrads, g.count == count { return g }
        let g = FloatBuffer(count: count)
        ownGrads = g
        return g
    }

    /// Lays the sequences out as padded inputs and targets.
    func prepare(_ seqs: [[Int32]], withReference: Bool, compute: Compute) {
        let t = seqs.map { $0.count - 1 }.max()!
        act.reserve(seqs: seqs.count, t: t, withReference: withReference, compute: compute)
        lengths = seqs.map { $0.count - 1 }
        let inp = act.inputs, tgt = act.targets
        for (b, s) in seqs.enumerated() {
            let n = s.count - 1
            for i in 0..<t {
                inp[b * t + i] = i < n ? s[i] : 0
                tgt[b * t + i] = i < n ? s[i + 1] : -1
            }
        }
    }

    /// Runs `model` on another shard's inputs and stores its log-softmax in that shard's
    /// layout, in this shard's `logits` region (used as the reference for KL).
    func referenceLogSoftmax(model: Transformer, inputsFrom other: Shard, compute: Compute) {
        act.reserve(seqs: other.act.seqs, t: other.act.t, withReference: false, compute: compute)
        act.inputs.update(from: other.act.inputs, count: other.act.rows)
        forward(model: model, compute: compute)
        compute.ops.logSoftmaxRows(logits: act.ptr(act.logits), rows: act.rows, v: model.config.vocabSize,
                                   scratch: act.ptr(act.softmaxScratch), threads: compute.threads)
    }

    /// The network forward pass up to the logits.
    func forward(model: Transformer, compute: Compute) {
        let cfg = model.config, L = model.layout, P = model.params.pointer
        let ops = compute.ops
        let n = act.rows, t = act.t, c = cfg.dModel, m = cfg.mlpWidth, v = cfg.vocabSize
        let th = compute.threads
        let ws = act.ptr(act.gemmWorkspace)
        timed(.embedding) {
            ops.encoderForward(out: act.ptr(act.encoded), tokens: act.inputs, wte: P + L.wte, wpe: P + L.wpe,
                               rows: n, t: t, c: c)
        }
        var resIn = act.ptr(act.encoded)
        for (l, bl) in L.blocks.enumerated() {
            let a = act.layers[l]
            let input = resIn
            timed(.layerNorm) {
                ops.layerNormForward(out: act.ptr(a.ln1), mean: act.ptr(a.ln1Mean), rstd: act.ptr(a.ln1Rstd),
                                     inp: input, weight: P + bl.ln1w, bias: P + bl.ln1b, rows: n, c: c, threads: th)
            }
            timed(.matmul) {
                linear(compute, out: act.ptr(a.qkv), inp: act.ptr(a.ln1), w: P + bl.qkvw, b: P + bl.qkvb,
                       rows: n, inDim: c, outDim: 3 * c, ws: ws)
            }
            timed(.attention) {
                ops.attentionForward(out: act.ptr(a.atty), probs: act.ptr(a.probs), qkv: act.ptr(a.qkv),
                                     scratch: act.ptr(act.attScratch), b: act.seqs, t: t, c: c, h: cfg.heads, threads: th)
            }
            timed(.matmul) {
                // res2 = resIn + atty·Wproj + bproj
                act.ptr(a.res2).update(from: input, count: n * c)
                ops.addBias(out: act.ptr(a.res2), bias: P + bl.projb, rows: n, n: c)
                compute.sgemm(transA: false, transB: false, m: n, n: c, k: c, a: act.ptr(a.atty), lda: c,
                              b: P + bl.projw, ldb: c, c: act.ptr(a.res2), ldc: c, beta: 1, workspace: ws)
            }
            timed(.layerNorm) {
                ops.layerNormForward(out: act.ptr(a.ln2), mean: act.ptr(a.ln2Mean), rstd: act.ptr(a.ln2Rstd),
                                     inp: act.ptr(a.res2), weight: P + bl.ln2w, bias: P + bl.ln2b, rows: n, c: c, threads: th)
            }
            timed(.matmul) {
                linear(compute, out: act.ptr(a.fch), inp: act.ptr(a.ln2), w: P + bl.fcw, b: P + bl.fcb,
                       rows: n, inDim: c, outDim: m, ws: ws)
            }
            timed(.gelu) { ops.geluForward(out: act.ptr(a.fchg), inp: act.ptr(a.fch), n: n * m, threads: th) }
            timed(.matmul) {
                // res3 = res2 + gelu(fch)·Wfcproj + bfcproj
                act.ptr(a.res3).update(from: act.ptr(a.res2), count: n * c)
                ops.addBias(out: act.ptr(a.res3), bias: P + bl.fcprojb, rows: n, n: c)
                compute.sgemm(transA: false, transB: false, m: n, n: c, k: m, a: act.ptr(a.fchg), lda: m,
                              b: P + bl.fcprojw, ldb: c, c: act.ptr(a.res3), ldc: c, beta: 1, workspace: ws)
            }
            resIn = act.ptr(a.res3)
        }
        let last = resIn
        timed(.layerNorm) {
            ops.layerNormForward(out: act.ptr(act.lnf), mean: act.ptr(act.lnfMean), rstd: act.ptr(act.lnfRstd),
                                 inp: last, weight: P + L.lnfw, bias: P + L.lnfb, rows: n, c: c, threads: th)
        }
        timed(.head) {
            if let head = L.head {
                compute.sgemm(transA: false, transB: false, m: n, n: v, k: c, a: act.ptr(act.lnf), lda: c,
                              b: P + head, ldb: v, c: act.ptr(act.logits), ldc: v, beta: 0, workspace: ws)
            } else {
                compute.sgemm(transA: false, transB: true, m: n, n: v, k: c, a: act.ptr(act.lnf), lda: c,
                              b: P + L.wte, ldb: c, c: act.ptr(act.logits), ldc: v, beta: 0, workspace: ws)
            }
        }
    }

    func headStats(compute: Compute, refLogp: UnsafeMutablePointer<Float>?, entropy: Bool) {
        timed(.softmax) { headStatsUntimed(compute: compute, refLogp: refLogp, entropy: entropy) }
    }

    private func headStatsUntimed(compute: Compute, refLogp: UnsafeMutablePointer<Float>?, entropy: Bool) {
        let v = act.config.vocabSize
        compute.ops.softmaxStats(
            logits: act.ptr(act.logits), targets: act.targets, rows: act.rows, v: v,
            lse: act.ptr(act.lse), targetLogp: act.ptr(act.targetLogp),
            refLogp: refLogp, kl: refLogp != nil ? act.ptr(act.kl) : nil,
            entropy: entropy || refLogp != nil ? act.ptr(act.entropy) : nil,
            scratch: act.ptr(act.softmaxScratch), threads: compute.threads)
        if let refLogp {
            // Keep the reference log-softmax for backward in this shard's own region.
            act.ptr(act.refLogp).update(from: refLogp, count: act.rows * v)
        }
    }

    /// Adds this shard's per-sequence sums into `result` at `offset`.
    func collect(into result: inout Transformer.ForwardResult, offset: Int) {
        let t = act.t
        let lp = act.ptr(act.targetLogp), kl = act.ptr(act.kl), h = act.ptr(act.entropy)
        for (b, len) in lengths.enumerated() {
            var s = 0.0, sk = 0.0, sh = 0.0
            for i in 0..<len {
                s += Double(lp[b * t + i])
                sk += Double(kl[b * t + i])
                sh += Double(h[b * t + i])
            }
            result.logProbs[offset + b] = s
            if result.klSums != nil { result.klSums![offset + b] = sk }
            if result.entropySums != nil { result.entropySums![offset + b] = sh }
        }
    }

    func setCoefficients(logProb: [Float], kl: [Float]?, entropy: [Float]?) {
        let t = act.t
        let a = act.ptr(act.coefLogp), k = act.ptr(act.coefKL), e = act.ptr(act.coefEntropy)
        for b in 0..<act.seqs {
            for i in 0..<t {
                a[b * t + i] = logProb[b]
                k[b * t + i] = kl?[b] ?? 0
                e[b * t + i] = entropy?[b] ?? 0
            }
        }
    }

    /// The backward pass: dLoss/dlogits from the coefficients, then every layer in reverse.
    func backward(model: Transformer, grads: FloatBuffer, compute: Compute) {
        let cfg = model.config, L = model.layout, P = model.params.pointer, G = grads.pointer
        let ops = compute.ops
        let n = act.rows, t = act.t, c = cfg.dModel, m = cfg.mlpWidth, v = cfg.vocabSize
        let th = compute.threads
        let ws = act.ptr(act.gemmWorkspace)
        let dlogits = act.ptr(act.logits)
        timed(.softmax) {
            ops.softmaxBackward(
                logits: dlogits, targets: act.targets, rows: n, v: v, lse: act.ptr(act.lse),
                targetCoef: act.ptr(act.coefLogp),
                refLogp: act.hasRefRegion ? act.ptr(act.refLogp) : nil, kl: act.ptr(act.kl), klCoef: act.ptr(act.coefKL),
                entropy: act.ptr(act.entropy), entropyCoef: act.ptr(act.coefEntropy), threads: th)
        }
        // Head: logits = lnf · wteᵀ (tied) or lnf · Whead.
        let dres = act.ptr(act.dres), dln = act.ptr(act.dln)
        timed(.head) {
            if let head = L.head {
                compute.sgemm(transA: false, transB: true, m: n, n: c, k: v, a: dlogits, lda: v,
                              b: P + head, ldb: v, c: dln, ldc: c, beta: 0, workspace: ws)
                compute.sgemm(transA: true, transB: false, m: c, n: v, k: n, a: act.ptr(act.lnf), lda: c,
                              b: dlogits, ldb: v, c: G + head, ldc: v, beta: 1, workspace: ws)
            } else {
                compute.sgemm(transA: false, transB: false, m: n, n: c, k: v, a: dlogits, lda: v,
                              b: P + L.wte, ldb: c, c: dln, ldc: c, beta: 0, workspace: ws)
                compute.sgemm(transA: true, transB: false, m: v, n: c, k: n, a: dlogits, lda: v,
                              b: act.ptr(act.lnf), ldb: c, c: G + L.wte, ldc: c, beta: 1, workspace: ws)
            }
        }
        let lastRes = L.blocks.isEmpty ? act.ptr(act.encoded) : act.ptr(act.layers[L.blocks.count - 1].res3)
        timed(.layerNorm) {
            dres.update(repeating: 0, count: n * c)
            ops.layerNormBackward(dinp: dres, dweight: G + L.lnfw, dbias: G + L.lnfb, dout: dln, inp: lastRes,
                                  weight: P + L.lnfw, mean: act.ptr(act.lnfMean), rstd: act.ptr(act.lnfRstd),
                                  rows: n, c: c, threads: th)
        }
        for l in stride(from: L.blocks.count - 1, through: 0, by: -1) {
            let bl = L.blocks[l], a = act.layers[l]
            let resIn = l == 0 ? act.ptr(act.encoded) : act.ptr(act.layers[l - 1].res3)
            // MLP: res3 = res2 + gelu(ln2·Wfc + bfc)·Wfcproj + bfcproj
            let dfch = act.ptr(act.dfch)
            timed(.matmul) {
                compute.sgemm(transA: false, transB: true, m: n, n: m, k: c, a: dres, lda: c,
                              b: P + bl.fcprojw, ldb: c, c: dfch, ldc: m, beta: 0, workspace: ws)
                compute.sgemm(transA: true, transB: false, m: m, n: c, k: n, a: act.ptr(a.fchg), lda: m,
                              b: dres, ldb: c, c: G + bl.fcprojw, ldc: c, beta: 1, workspace: ws)
                ops.biasBackward(dbias: G + bl.fcprojb, dout: dres, rows: n, n: c)
            }
            timed(.gelu) { ops.geluBackward(dinp: dfch, inp: act.ptr(a.fch), dout: dfch, n: n * m, threads: th) }
            timed(.matmul) {
                linearBackward(compute, dinp: dln, dw: G + bl.fcw, db: G + bl.fcb, dout: dfch, inp: act.ptr(a.ln2),
                               w: P + bl.fcw, rows: n, inDim: c, outDim: m, ws: ws)
            }
            timed(.layerNorm) {
                ops.layerNormBackward(dinp: dres, dweight: G + bl.ln2w, dbias: G + bl.ln2b, dout: dln, inp: act.ptr(a.res2),
                                      weight: P + bl.ln2w, mean: act.ptr(a.ln2Mean), rstd: act.ptr(a.ln2Rstd),
                                      rows: n, c: c, threads: th)
            }
            // Attention: res2 = resIn + attn(ln1·Wqkv + bqkv)·Wproj + bproj
            let datty = act.ptr(act.datty), dqkv = act.ptr(act.dqkv)
            timed(.matmul) {
                linearBackward(compute, dinp: datty, dw: G + bl.projw, db: G + bl.projb, dout: dres, inp: act.ptr(a.atty),
                               w: P + bl.projw, rows: n, inDim: c, outDim: c, ws: ws)
            }
            timed(.attention) {
                ops.attentionBackward(dqkv: dqkv, scratch: act.ptr(act.attScratch), dout: datty, qkv: act.ptr(a.qkv),
                                      probs: act.ptr(a.probs), b: act.seqs, t: t, c: c, h: cfg.heads, threads: th)
            }
            timed(.matmul) {
                linearBackward(compute, dinp: dln, dw: G + bl.qkvw, db: G + bl.qkvb, dout: dqkv, inp: act.ptr(a.ln1),
                               w: P + bl.qkvw, rows: n, inDim: c, outDim: 3 * c, ws: ws)
            }
            timed(.layerNorm) {
                ops.layerNormBackward(dinp: dres, dweight: G + bl.ln1w, dbias: G + bl.ln1b, dout: dln, inp: resIn,
                                      weight: P + bl.ln1w, mean: act.ptr(a.ln1Mean), rstd: act.ptr(a.ln1Rstd),
                                      rows: n, c: c, threads: th)
            }
        }
        timed(.embedding) {
            ops.encoderBackward(dwte: G + L.wte, dwpe: G + L.wpe, dout: dres, tokens: act.inputs, rows: n, t: t, c: c)
        }
    }

    /// out[rows, outDim] = inp[rows, inDim] · w[inDim, outDim] + b
    private func linear(_ compute: Compute, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>,
                        w: UnsafePointer<Float>, b: UnsafePointer<Float>, rows: Int, inDim: Int, outDim: Int,
                        ws: UnsafeMutablePointer<Float>) {
        compute.sgemm(transA: false, transB: false, m: rows, n: outDim, k: inDim, a: inp, lda: inDim,
                      b: w, ldb: outDim, c: out, ldc: outDim, beta: 0, workspace: ws)
        compute.ops.addBias(out: out, bias: b, rows: rows, n: outDim)
    }

    /// Backward of `linear`: dinp = dout · wᵀ (overwritten), dw += inpᵀ · dout, db += Σ dout.
    private func linearBackward(_ compute: Compute, dinp: UnsafeMutablePointer<Float>, dw: UnsafeMutablePointer<Float>,
                                db: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                                w: UnsafePointer<Float>, rows: Int, inDim: Int, outDim: Int,
                                ws: UnsafeMutablePointer<Float>) {
        compute.sgemm(transA: false, transB: true, m: rows, n: inDim, k: outDim, a: dout, lda: outDim,
                      b: w, ldb: outDim, c: dinp, ldc: inDim, beta: 0, workspace: ws)
        compute.sgemm(transA: true, transB: false, m: inDim, n: outDim, k: rows, a: inp, lda: inDim,
                      b: dout, ldb: outDim, c: dw, ldc: outDim, beta: 1, workspace: ws)
        compute.ops.biasBackward(dbias: db, dout: dout, rows: rows, n: outDim)
    }
}
