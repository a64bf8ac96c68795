/// Saved activations and backward scratch for one shard of a batch: `seqs` sequences padded to
/// `t` positions (n = seqs·t rows). One allocation, carved into named regions; reused across
/// steps and regrown only when a larger batch arrives, so a training step does not allocate.
final class Activations {
    struct Layer {
        var ln1 = 0, ln1Mean = 0, ln1Rstd = 0, qkv = 0, atty = 0, probs = 0, res2 = 0
        var ln2 = 0, ln2Mean = 0, ln2Rstd = 0, fch = 0, fchg = 0, res3 = 0
    }

    let config: ModelConfig
    private(set) var capacityRows = 0
    private(set) var capacityProbs = 0
    private(set) var buffer = FloatBuffer(count: 0)
    private var ints = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    // Offsets into `buffer` (valid for the current capacity).
    var layers: [Layer] = []
    var encoded = 0, lnf = 0, lnfMean = 0, lnfRstd = 0, logits = 0, refLogp = 0
    var lse = 0, targetLogp = 0, kl = 0, entropy = 0, coefLogp = 0, coefKL = 0, coefEntropy = 0
    var dres = 0, dln = 0, dqkv = 0, datty = 0, dfch = 0, attScratch = 0, softmaxScratch = 0, gemmWorkspace = 0
    var hasRefRegion = false

    /// The shard's current shape.
    var seqs = 0, t = 0
    var rows: Int { seqs * t }

    init(config: ModelConfig) { self.config = config }

    var base: UnsafeMutablePointer<Float> { buffer.pointer }
    func ptr(_ offset: Int) -> UnsafeMutablePointer<Float> { buffer.pointer + offset }

    /// The kernel build and threads the scratch regions were sized for (models sharing a
    /// `Workspace` may differ in them).
    private var laidOutFor: (path: KernelPath, threads: Int)?

    /// Makes room for `seqs` sequences of `t` positions (with a reference log-softmax region
    /// when `withReference`), keeping the old allocation when it is big enough.
    func reserve(seqs: Int, t: Int, withReference: Bool, compute: Compute) {
        self.seqs = seqs
        self.t = t
        let n = seqs * t
        let probs = seqs * config.heads * t * t
        let sameCompute = laidOutFor.map { $0.path == compute.path && $0.threads == compute.threads } ?? false
        if sameCompute && n <= capacityRows && probs <= capacityProbs && (!withReference || hasRefRegion) { return }
        let capRows = max(n, capacityRows)
        let capProbs = max(probs, capacityProbs)
        let ref = withReference || hasRefRegion
        layout(rows: capRows, probs: capProbs, withReference: ref, compute: compute)
    }

    private func layout(rows n: Int, probs: Int, withReference: Bool, compute: Compute) {
        let c = config.dModel, v = config.vocabSize, m = config.mlpWidth
        var off = 0
        func take(_ count: Int) -> Int {
            let o = off
            off += (count + 15) & ~15   // keep every region 64-byte aligned
            return o
        }
        encoded = take(n * c)
        layers = (0..<config.layers).map { _ in
            var l = Layer()
            l.ln1 = take(n * c); l.ln1Mean = take(n); l.ln1Rstd = take(n)
            l.qkv = take(n * 3 * c); l.atty = take(n * c); l.probs = take(probs); l.res2 = take(n * c)
            l.ln2 = take(n * c); l.ln2Mean = take(n); l.ln2Rstd = take(n)
            l.fch = take(n * m); l.fchg = take(n * m); l.res3 = take(n * c)
            return l
        }
        lnf = take(n * c); lnfMean = take(n); lnfRstd = take(n)
        logits = take(n * v)
        refLogp = withReference ? take(n * v) : 0
        hasRefRegion = withReference
        lse = take(n); targetLogp = take(n); kl = take(n); entropy = take(n)
        coefLogp = take(n); coefKL = take(n); coefEntropy = take(n)
        dres = take(n * c); dln = take(n * c); dqkv = take(n * 3 * c); datty = take(n * c); dfch = take(n * m)
        attScratch = take(compute.ops.attentionScratchSize(t: config.contextLength, headSize: config.headSize,
                                                             threads: compute.threads))
        softmaxScratch = take(compute.threads * v)
        let ws = [
            compute.gemmWorkspaceSize(m: n, n: 3 * c, k: c), compute.gemmWorkspaceSize(m: n, n: c, k: 3 * c),
            compute.gemmWorkspaceSize(m: n, n: m, k: c), compute.gemmWorkspaceSize(m: n, n: c, k: m),
            compute.gemmWorkspaceSize(m: n, n: v, k: c), compute.gemmWorkspaceSize(m: n, n: c, k: v),
            compute.gemmWorkspaceSize(m: c, n: 3 * c, k: n), compute.gemmWorkspaceSize(m: c, n: m, k: n),
            compute.gemmWorkspaceSize(m: m, n: c, k: n), compute.gemmWorkspaceSize(m: v, n: c, k: n),
            compute.gemmWorkspaceSize(m: c, n: v, k: n), compute.gemmWorkspaceSize(m: c, n: c, k: n),
        ].max() ?? 0
        gemmWorkspace = take(ws)
        buffer = FloatBuffer(count: 0)   // the old block goes before the new one comes
        buffer = FloatBuffer(count: off)
        laidOutFor = (compute.path, compute.threads)
        capacityRows = n
        capacityProbs = probs
        ints.deallocate()
        ints = .allocate(capacity: 2 * n)
        ints.initialize(repeating: 0, count: 2 * n)
    }

    /// Token inputs [rows] (padding uses token 0; it is never attended to by real positions).
    var inputs: UnsafeMutablePointer<Int32> { ints }
    /// Next-token targets [rows]; −1 marks padding, which contributes nothing.
    var targets: UnsafeMutablePointer<Int32> { ints + capacityRows }

    var byteCount: Int { buffer.byteCount + 2 * capacityRows * 4 }

    deinit { ints.deallocate() }
}
