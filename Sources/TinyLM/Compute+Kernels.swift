import TinyLMKernelsAVX2
import TinyLMKernelsAVX512
import TinyLMKernelsPortable

// The three builds of Kernels/ each define `Gemm` and `Ops` with the same static functions.
// These protocols name that shared surface, so a `Compute` can hold the chosen build as a
// metatype and every caller stays unaware that there are three (and that a training step's
// GEMM may be `BF16Gemm`, Compute+BF16.swift).

/// Matrix multiply; see Kernels/Gemm.swift for the contract.
public protocol GemmKernels {
    static func workspaceSize(m: Int, n: Int, k: Int, threads: Int) -> Int
    static func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, threads: Int,
        workspace: UnsafeMutablePointer<Float>?)
}

/// The transformer's other layers; see Kernels/Layers.swift for each contract.
public protocol KernelOps {
    static func encoderForward(
        out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
        wte: UnsafePointer<Float>, wpe: UnsafePointer<Float>, rows: Int, t: Int, c: Int)
    static func encoderBackward(
        dwte: UnsafeMutablePointer<Float>, dwpe: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, rows: Int, t: Int, c: Int)
    static func layerNormForward(
        out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        rows: Int, c: Int, threads: Int)
    static func layerNormBackward(
        dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, c: Int, threads: Int)
    static func addBias(out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, n: Int)
    static func biasBackward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, rows: Int, n: Int)
    static func add(out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, n: Int)
    static func geluForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, n: Int, threads: Int)
    static func geluBackward(
        dinp: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, dout: UnsafePointer<Float>, n: Int, threads: Int)
    static func attentionScratchSize(t: Int, headSize hs: Int, threads: Int) -> Int
    static func attentionForward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, b: Int, t: Int, c: Int, h: Int, threads: Int)
    static func attentionBackward(
        dqkv: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
        qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>, b: Int, t: Int, c: Int, h: Int, threads: Int)
    static func softmaxStats(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, v: Int,
        lse: UnsafeMutablePointer<Float>, targetLogp: UnsafeMutablePointer<Float>,
        refLogp: UnsafePointer<Float>?, kl: UnsafeMutablePointer<Float>?, entropy: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Float>, threads: Int)
    static func softmaxBackward(
        logits: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, v: Int,
        lse: UnsafePointer<Float>, targetCoef: UnsafePointer<Float>,
        refLogp: UnsafePointer<Float>?, kl: UnsafePointer<Float>?, klCoef: UnsafePointer<Float>?,
        entropy: UnsafePointer<Float>?, entropyCoef: UnsafePointer<Float>?, threads: Int)
    static func logSoftmaxRows(
        logits: UnsafeMutablePointer<Float>, rows: Int, v: Int, scratch: UnsafeMutablePointer<Float>, threads: Int)
    static func attentionDecode(
        out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
        kCache: UnsafeMutablePointer<Float>, vCache: UnsafeMutablePointer<Float>,
        positions: UnsafePointer<Int32>, rows: Int, ctx: Int, c: Int, h: Int,
        scratch: UnsafeMutablePointer<Float>)
    static func sumOfSquares(_ x: UnsafePointer<Float>, n: Int) -> Double
    static func adamw(
        param: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, n: Int,
        lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float,
        gradScale: Float, bc1: Float, bc2: Float, threads: Int)
}

extension TinyLMKernelsAVX512.Gemm: GemmKernels {}
extension TinyLMKernelsAVX2.Gemm: GemmKernels {}
extension TinyLMKernelsPortable.Gemm: GemmKernels {}
extension TinyLMKernelsAVX512.Ops: KernelOps {}
extension TinyLMKernelsAVX2.Ops: KernelOps {}
extension TinyLMKernelsPortable.Ops: KernelOps {}

extension Compute {
    /// The layer kernels of this path's build.
    public var ops: any KernelOps.Type {
        switch path {
        case .avx512, .avx512bf16: TinyLMKernelsAVX512.Ops.self
        case .avx2: TinyLMKernelsAVX2.Ops.self
        case .portable: TinyLMKernelsPortable.Ops.self
        }
    }

    /// The matrix multiply: bf16 products when `bf16Products`, else this path's fp32 build.
    public var gemm: any GemmKernels.Type {
        if bf16Products { return BF16Gemm.self }
        return switch path {
        case .avx512, .avx512bf16: TinyLMKernelsAVX512.Gemm.self
        case .avx2: TinyLMKernelsAVX2.Gemm.self
        case .portable: TinyLMKernelsPortable.Gemm.self
        }
    }

    /// Floats of workspace `sgemm` needs for these sizes, whether or not the products are bf16
    /// (so one workspace serves a path's evaluation and its training steps).
    public func gemmWorkspaceSize(m: Int, n: Int, k: Int) -> Int {
        let fp32 = fp32.gemm.workspaceSize(m: m, n: n, k: k, threads: threads)
        guard path.trainsInBF16 else { return fp32 }
        return max(fp32, BF16Gemm.workspaceSize(m: m, n: n, k: k, threads: threads))
    }

    /// `C[m×n] = op(A)·op(B) + beta·C`, row-major, on `threads` threads; see Kernels/Gemm.swift.
    public func sgemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float,
        workspace: UnsafeMutablePointer<Float>?
    ) {
        gemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                   c: c, ldc: ldc, beta: beta, threads: threads, workspace: workspace)
    }
}
