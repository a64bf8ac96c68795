import Foundation

/// AdamW settings and learning-rate schedule: linear warm-up, then cosine decay to
/// `minLRFraction · learningRate` at `totalSteps` (constant after that).
public struct AdamWConfig: Codable, Sendable, Hashable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    /// Decoupled weight decay, applied to weight matrices and embeddings only.
    public var weightDecay: Float
    /// Gradients are rescaled so their global L2 norm is at most this (0 = no clipping).
    public var gradClip: Float
    public var warmupSteps: Int
    /// Steps of the cosine decay; 0 means a constant rate after warm-up.
    public var totalSteps: Int
    public var minLRFraction: Float

    public init(learningRate: Float = 3e-3, beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8,
                weightDecay: Float = 0.1, gradClip: Float = 1, warmupSteps: Int = 0, totalSteps: Int = 0,
                minLRFraction: Float = 0.1) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.gradClip = gradClip
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minLRFraction = minLRFraction
    }

    /// The learning rate for step `step` (counting from 0).
    public func learningRate(at step: Int) -> Float {
        if warmupSteps > 0 && step < warmupSteps {
            return learningRate * Float(step + 1) / Float(warmupSteps)
        }
        guard totalSteps > warmupSteps else { return learningRate }
        let progress = min(1, Double(step - warmupSteps) / Double(totalSteps - warmupSteps))
        let cosine = 0.5 * (1 + cos(Double.pi * progress))
        let floor = Double(minLRFraction)
        return learningRate * Float(floor + (1 - floor) * cosine)
    }
}

/// What one optimizer step did.
public struct StepReport: Sendable, Hashable {
    public var step: Int
    public var learningRate: Float
    /// Global gradient norm before clipping.
    public var gradNorm: Double
    public var clipped: Bool
    /// The gradient had a NaN or infinity: the parameters were left unchanged.
    public var skipped: Bool

    public init(step: Int, learningRate: Float, gradNorm: Double, clipped: Bool, skipped: Bool) {
        self.step = step
        self.learningRate = learningRate
        self.gradNorm = gradNorm
        self.clipped = clipped
        self.skipped = skipped
    }
}

/// AdamW over a model's contiguous parameter buffer, with its moments at the same offsets.
public final class AdamW: @unchecked Sendable {
    public var config: AdamWConfig
    public let m: FloatBuffer
    public let v: FloatBuffer
    /// Updates applied so far (skipped steps do not count).
    public private(set) var step: Int = 0

    public init(config: AdamWConfig, parameterCount: Int) {
        self.config = config
        m = FloatBuffer(count: parameterCount)
        v = FloatBuffer(count: parameterCount)
    }

    /// Restores saved moments and step count.
    public init(config: AdamWConfig, m: FloatBuffer, v: FloatBuffer, step: Int) {
        precondition(m.count == v.count)
        self.config = config
        self.m = m
        self.v = v
        self.step = step
    }

    /// Applies one update from `model.grads` (which it leaves unchanged).
    @discardableResult
    public func update(_ model: Transformer) -> StepReport {
        precondition(model.parameterCount == m.count, "optimizer was made for another model")
        let ops = model.compute.ops
        let norm = ops.sumOfSquares(model.grads.pointer, n: model.parameterCount).squareRoot()
        let lr = config.learningRate(at: step)
        guard norm.isFinite else {
            return StepReport(step: step, learningRate: lr, gradNorm: norm, clipped: false, skipped: true)
        }
        let clip = config.gradClip > 0 && norm > Double(config.gradClip)
        let scale: Float = clip ? Float(Double(config.gradClip) / norm) : 1
        step += 1
        let bc1 = 1 - powf(config.beta1, Float(step)), bc2 = 1 - powf(config.beta2, Float(step))
        let t0 = DispatchTime.now().uptimeNanoseconds
        defer {
            if model.profiling {
                model.extraPhaseNanos[StepPhase.optimizer.rawValue] += DispatchTime.now().uptimeNanoseconds - t0
            }
        }
        let p = model.params.pointer, g = model.grads.pointer
        for (ranges, wd) in [(model.layout.decayed, config.weightDecay), (model.layout.notDecayed, 0)] {
            for r in ranges {
                ops.adamw(param: p + r.lowerBound, grad: g + r.lowerBound, m: m.pointer + r.lowerBound,
                          v: v.pointer + r.lowerBound, n: r.count, lr: lr, beta1: config.beta1, beta2: config.beta2,
                          eps: config.eps, weightDecay: wd, gradScale: scale, bc1: bc1, bc2: bc2,
                          threads: model.compute.threads)
            }
        }
        return StepReport(step: step - 1, learningRate: lr, gradNorm: norm, clipped: clip, skipped: false)
    }
}
