import Foundation

// The solvers behind `OutcomeModel`. Hot loops index raw pointers with `while` loops: in a
// debug build (what `swift test` runs) array subscripts and range iterators are function
// calls, pointer subscripts are inlined; in release both compile to the same code.

@inline(__always) func logisticFunction(_ x: Double) -> Double {
    if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
    let e = Foundation.exp(x)
    return e / (1 + e)
}

/// The training rows restricted to the feature slots that occur in them (the other slots
/// have zero gradient at β = 0 and stay exactly 0), with the column means x̄ so that the
/// centered design X_c = X − 1 x̄ᵀ is applied implicitly (it is dense, X is not). Centering
/// separates the unpenalized intercept from β: for ridge it is then t̄ − x̄·β in closed form,
/// and for logistic it decouples from β in the Hessian, which speeds up CG.
struct CenteredDesign: Sendable {
    let n: Int
    let p: Int
    let rowStart: [Int]
    /// Local column of each stored entry (then one unused trailing entry, as in `value`).
    let column: [Int]
    let value: [Double]
    /// x̄ (p entries, then one unused trailing 0).
    let mean: [Double]
    /// Local column → hash slot.
    let globalColumn: [Int]

    init(rows: [SparseVector], dimension: Int) {
        var local = [Int](repeating: -1, count: dimension)
        var global: [Int] = []
        var starts = [0]
        var cols: [Int] = []
        var vals: [Double] = []
        starts.reserveCapacity(rows.count + 1)
        for x in rows {
            for k in x.indices.indices {
                let g = x.indices[k]
                precondition(g >= 0 && g < dimension, "feature index \(g) outside the featurizer's dimension \(dimension)")
                if local[g] < 0 {
                    local[g] = global.count
                    global.append(g)
                }
                cols.append(local[g])
                vals.append(x.values[k])
            }
            starts.append(cols.count)
        }
        var m = [Double](repeating: 0, count: global.count)
        for k in cols.indices { m[cols[k]] += vals[k] }
        let inv = 1 / Double(max(1, rows.count))
        m = m.map { $0 * inv }
        // One unused trailing element each, so that every array has a base address (the hot
        // loops unwrap it once) even without rows or features.
        cols.append(0)
        vals.append(0)
        m.append(0)
        n = rows.count
        p = global.count
        rowStart = starts
        column = cols
        value = vals
        globalColumn = global
        mean = m
    }

    /// The stored arrays as pointers for the hot loops: row starts, local columns, values and
    /// x̄ (each has a base address even when empty: see `init`).
    @inline(__always)
    private func withRaw<R>(_ body: (_ rowStart: UnsafePointer<Int>, _ column: UnsafePointer<Int>, _ value: UnsafePointer<Double>,
                                    _ mean: UnsafePointer<Double>) -> R) -> R {
        rowStart.withUnsafeBufferPointer { rsb in
            column.withUnsafeBufferPointer { cb in
                value.withUnsafeBufferPointer { xb in
                    mean.withUnsafeBufferPointer { mb in body(rsb.baseAddress!, cb.baseAddress!, xb.baseAddress!, mb.baseAddress!) }
                }
            }
        }
    }

    /// out[0..<n] = X_c v.
    func multiply(_ v: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>) {
        withRaw { rs, c, x, m in
            var shift = 0.0
            var j = 0
            while j < p { shift += m[j] * v[j]; j += 1 }
            var i = 0
            while i < n {
                var s = 0.0
                var k = rs[i]
                let end = rs[i + 1]
                while k < end { s += x[k] * v[c[k]]; k += 1 }
                out[i] = s - shift
                i += 1
            }
        }
    }

    /// out[0..<p] = X_cᵀ u.
    func multiplyTransposed(_ u: UnsafePointer<Double>, into out: UnsafeMutablePointer<Double>) {
        withRaw { rs, c, x, m in
            var total = 0.0
            var i = 0
            while i < n { total += u[i]; i += 1 }
            var j = 0
            while j < p { out[j] = -m[j] * total; j += 1 }
            i = 0
            while i < n {
                let ui = u[i]
                if ui != 0 {
                    var k = rs[i]
                    let end = rs[i + 1]
                    while k < end { out[c[k]] += x[k] * ui; k += 1 }
                }
                i += 1
            }
        }
    }

    /// out[0..<p] = diag(X_cᵀ D X_c) for row weights D (nil = all ones), without forming X_c:
    /// Σ_i D_i (x_ij − x̄_j)² = Σ_i D_i x_ij² − 2 x̄_j Σ_i D_i x_ij + x̄_j² Σ_i D_i.
    func gramDiagonal(rowWeights d: UnsafePointer<Double>?, into out: UnsafeMutablePointer<Double>) {
        let lin = UnsafeMutablePointer<Double>.allocate(capacity: max(p, 1))
        defer { lin.deallocate() }
        lin.initialize(repeating: 0, count: p)
        out.update(repeating: 0, count: p)
        let total: Double = withRaw { rs, c, x, _ in
            var total = 0.0
            var i = 0
            while i < n {
                let di = d?[i] ?? 1
                total += di
                var k = rs[i]
                let end = rs[i + 1]
                while k < end {
                    let j = c[k], xv = x[k]
                    out[j] += di * xv * xv
                    lin[j] += di * xv
                    k += 1
                }
                i += 1
            }
            return total
        }
        for j in 0..<p { out[j] = max(0, out[j] - 2 * mean[j] * lin[j] + mean[j] * mean[j] * total) }
    }

    /// b = c − x̄·β: the intercept in uncentered coordinates.
    func uncenteredIntercept(_ c: Double, beta: [Double]) -> Double {
        var xb = 0.0
        for j in 0..<p { xb += mean[j] * beta[j] }
        return c - xb
    }
}

/// A solution in local (active-column) coordinates, with the intercept un-centered
/// (b = c − x̄·β), and the centered intercept c kept for warm starts.
struct LinearSolution: Sendable {
    var intercept: Double
    var centeredIntercept: Double
    var beta: [Double]
    var report: OutcomeFitReport
}

/// A vector of doubles with manual lifetime, for the solvers' scratch space.
typealias RawVector = UnsafeMutablePointer<Double>

@inline(__always) func rawVector(_ count: Int, _ value: Double = 0) -> RawVector {
    let v = RawVector.allocate(capacity: max(count, 1))
    v.initialize(repeating: value, count: count)
    return v
}

@inline(__always) func rawDot(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ n: Int) -> Double {
    var s = 0.0
    var i = 0
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// Jacobi-preconditioned conjugate gradient for a symmetric positive-definite A given as a
/// product `apply(v, out)`. Solves A x = b starting from x's content; stops when the
/// recursive residual ‖b − Ax‖₂ ≤ tolerance (absolute) or after `maxIterations`.
/// Returns the iterations used.
func preconditionedCG(b: UnsafePointer<Double>, x: RawVector, count p: Int, diagonal: UnsafePointer<Double>,
                      tolerance: Double, maxIterations: Int, startsAtZero: Bool,
                      apply: (UnsafePointer<Double>, RawVector) -> Void) -> Int {
    let r = rawVector(p), z = rawVector(p), d = rawVector(p), ap = rawVector(p), inv = rawVector(p)
    defer { for v in [r, z, d, ap, inv] { v.deallocate() } }
    var j = 0
    while j < p { inv[j] = diagonal[j] > 0 ? 1 / diagonal[j] : 1; j += 1 }
    if startsAtZero {
        r.update(from: b, count: p)
    } else {
        apply(x, ap)
        j = 0
        while j < p { r[j] = b[j] - ap[j]; j += 1 }
    }
    j = 0
    while j < p { z[j] = r[j] * inv[j]; d[j] = z[j]; j += 1 }
    var rz = rawDot(r, z, p)
    var it = 0
    let tol2 = tolerance * tolerance
    while it < maxIterations, rawDot(r, r, p) > tol2 {
        apply(d, ap)
        let dAd = rawDot(d, ap, p)
        guard dAd > 0, dAd.isFinite else { break }
        let alpha = rz / dAd
        var rzNew = 0.0
        j = 0
        while j < p {
            x[j] += alpha * d[j]
            r[j] -= alpha * ap[j]
            z[j] = r[j] * inv[j]
            rzNew += r[j] * z[j]
            j += 1
        }
        let beta = rzNew / rz
        rz = rzNew
        j = 0
        while j < p { d[j] = z[j] + beta * d[j]; j += 1 }
        it += 1
    }
    return it
}

enum RidgeSolver {
    /// β solves (X_cᵀX_c + λI) β = X_cᵀ(t − t̄), the normal equations, by CG on the sparse X
    /// (from `start` if given), and b = t̄ − x̄·β, which zeroes the intercept's gradient
    /// exactly. Stops at ‖gradient‖₂ ≤ tolerance·‖X_cᵀ(t − t̄)‖₂ (the gradient at β = 0).
    static func solve(_ X: CenteredDesign, targets t: [Double], lambda: Double, options: OutcomeSolverOptions,
                      start: [Double]? = nil) -> LinearSolution {
        let n = X.n, p = X.p
        let mean = t.reduce(0, +) / Double(n)
        let tc = rawVector(n), rhs = rawVector(p), tmp = rawVector(n), x = rawVector(p), diag = rawVector(p)
        defer { for v in [tc, rhs, tmp, x, diag] { v.deallocate() } }
        for i in 0..<n { tc[i] = t[i] - mean }
        X.multiplyTransposed(tc, into: rhs)
        let apply: (UnsafePointer<Double>, RawVector) -> Void = { v, out in
            X.multiply(v, into: tmp)
            X.multiplyTransposed(tmp, into: out)
            var j = 0
            while j < p { out[j] += lambda * v[j]; j += 1 }
        }
        let g0 = rawDot(rhs, rhs, p).squareRoot()
        let target = options.tolerance * g0
        X.gramDiagonal(rowWeights: nil, into: diag)
        for j in 0..<p { diag[j] += lambda }
        if let s = start { for j in 0..<p { x[j] = s[j] } }
        var iterations = preconditionedCG(b: rhs, x: x, count: p, diagonal: diag, tolerance: target,
                                          maxIterations: options.maxCGIterations, startsAtZero: start == nil, apply: apply)
        // The recursive residual can drift from the true one; confirm, and restart once if needed.
        var grad = gradientNorm(x, rhs: rhs, count: p, apply: apply)
        if grad > target, iterations < options.maxCGIterations {
            iterations += preconditionedCG(b: rhs, x: x, count: p, diagonal: diag, tolerance: target,
                                           maxIterations: options.maxCGIterations - iterations, startsAtZero: false, apply: apply)
            grad = gradientNorm(x, rhs: rhs, count: p, apply: apply)
        }
        let beta = Array(UnsafeBufferPointer(start: x, count: p))
        let report = OutcomeFitReport(iterations: iterations, cgIterations: iterations, gradientNorm: grad,
                                      initialGradientNorm: g0, converged: grad <= target || g0 == 0, activeFeatures: p)
        return LinearSolution(intercept: X.uncenteredIntercept(mean, beta: beta), centeredIntercept: mean, beta: beta, report: report)
    }

    /// ‖(X_cᵀX_c + λI)β − X_cᵀt_c‖₂: the norm of the ridge objective's gradient.
    static func gradientNorm(_ beta: UnsafePointer<Double>, rhs: UnsafePointer<Double>, count p: Int,
                             apply: (UnsafePointer<Double>, RawVector) -> Void) -> Double {
        let ab = rawVector(p)
        defer { ab.deallocate() }
        apply(beta, ab)
        var s = 0.0
        for j in 0..<p { s += (ab[j] - rhs[j]) * (ab[j] - rhs[j]) }
        return s.squareRoot()
    }
}

enum LogisticSolver {
    /// Row weights σ(1 − σ) are kept at least this, so the Hessian stays positive definite
    /// where the model is certain.
    static let minimumRowWeight = 1e-12
    /// The truncated-Newton forcing term: CG stops at min(maxForcing, √(‖g‖/‖g₀‖))·‖g‖.
    static let maxForcing = 0.5
    /// Armijo's sufficient-decrease constant, the backtracking factor and the most halvings.
    static let armijo = 1e-4
    static let backtrackFactor = 0.5
    static let maxBacktracks = 60
    /// A predicted decrease below this fraction of |loss| + 1 is under the rounding of the
    /// summed loss: Armijo cannot judge such a step.
    static let lossResolution = 1e-11
    /// With all targets 0 or all 1 the intercept is the logit of (Σt + s)/(n + 2s).
    static let separableSmoothing = 0.5

    /// Newton's method with the Newton system solved by preconditioned CG (truncated Newton,
    /// forcing term min(½, √(‖g‖/‖g₀‖))), in centered coordinates η = c + X_c β, with Armijo
    /// backtracking while the loss can still tell steps apart; stops at ‖g‖₂ ≤ tolerance·‖g₀‖₂,
    /// g₀ the gradient at β = 0 with c = logit(t̄). When the targets are all 0 or all 1 the
    /// unpenalized intercept has no finite optimum: then β = 0 and the intercept is the logit
    /// of the smoothed mean (Σt + ½)/(n + 1).
    static func solve(_ X: CenteredDesign, targets t: [Double], lambda: Double, options: OutcomeSolverOptions,
                      start: (centeredIntercept: Double, beta: [Double])? = nil) -> LinearSolution {
        let n = X.n, p = X.p
        let sumT = t.reduce(0, +)
        if sumT <= 0 || sumT >= Double(n) {
            let q = (sumT + separableSmoothing) / (Double(n) + 2 * separableSmoothing)
            let c = Foundation.log(q / (1 - q))
            let report = OutcomeFitReport(iterations: 0, cgIterations: 0, gradientNorm: 0, initialGradientNorm: 0,
                                          converged: true, activeFeatures: p)
            return LinearSolution(intercept: c, centeredIntercept: c, beta: [Double](repeating: 0, count: p), report: report)
        }
        let fit = LogisticFit(X, targets: t, lambda: lambda)
        // g₀ at β = 0, c = logit(t̄): the reference for the relative tolerance.
        let mean = sumT / Double(n)
        fit.c = Foundation.log(mean / (1 - mean))
        for i in 0..<n { fit.eta[i] = fit.c }
        let g0 = fit.gradient().norm
        if let s = start {
            fit.c = s.centeredIntercept
            for j in 0..<p { fit.beta[j] = s.beta[j] }
            fit.setEta()
        }
        var (gc, gNorm) = fit.gradient()
        let target = options.tolerance * g0
        fit.f = fit.loss(fit.eta, betaNormSquared: rawDot(fit.beta, fit.beta, p))
        var newton = 0, cgTotal = 0
        while gNorm > target, newton < options.maxNewtonIterations {
            cgTotal += fit.newtonDirection(gc: gc, tolerance: min(maxForcing, (gNorm / g0).squareRoot()) * gNorm,
                                           maxIterations: options.maxCGIterations)
            let slope = rawDot(fit.gBeta, fit.z, p) + gc * fit.z[p]
            guard slope < 0 else { break }
            // Near the optimum the predicted decrease drops below the rounding of the summed
            // loss, so Armijo cannot judge a step: there Newton converges quadratically and the
            // full step is taken; the gradient norm (below) decides whether it helped.
            let judgeable = -slope > lossResolution * (abs(fit.f) + 1)
            fit.savePoint()
            newton += 1
            guard fit.lineSearch(slope: slope, judgeable: judgeable) else { break }
            // Recompute η from β and c so that rounding in the updates cannot accumulate.
            fit.setEta()
            let previous = gNorm
            (gc, gNorm) = fit.gradient()
            if !judgeable, gNorm >= previous {
                // At the floor that arithmetic allows: undo the step and stop.
                fit.restorePoint()
                (gc, gNorm) = fit.gradient()
                break
            }
        }
        let betaOut = Array(UnsafeBufferPointer(start: fit.beta, count: p))
        let report = OutcomeFitReport(iterations: newton, cgIterations: cgTotal, gradientNorm: gNorm, initialGradientNorm: g0,
                                      converged: gNorm <= target, activeFeatures: p)
        return LinearSolution(intercept: X.uncenteredIntercept(fit.c, beta: betaOut), centeredIntercept: fit.c, beta: betaOut, report: report)
    }
}

/// The state of one penalized logistic fit in centered coordinates: β and c, η = c + X_c β, the
/// loss f, and the scratch vectors of its steps (allocated once, freed with it).
private final class LogisticFit {
    let X: CenteredDesign
    let n: Int, p: Int
    let lambda: Double
    var c = 0.0
    var f = 0.0
    /// Targets, η, σ(η) − t, row weights σ(1 − σ), the step's change of η, scratch, trial η.
    let tt: RawVector, eta: RawVector, resid: RawVector, w: RawVector, dEta: RawVector, tmpN: RawVector, etaTrial: RawVector
    /// β, the saved β of `savePoint`, the β part of the gradient, scratch.
    let beta: RawVector, betaSaved: RawVector, gBeta: RawVector, hb: RawVector
    /// The Newton direction (β part, then c), the Newton system's right side and its diagonal.
    let z: RawVector, rhs: RawVector, diag: RawVector
    private var cSaved = 0.0, fSaved = 0.0

    init(_ X: CenteredDesign, targets t: [Double], lambda: Double) {
        self.X = X
        n = X.n
        p = X.p
        self.lambda = lambda
        (tt, eta, resid, w, dEta, tmpN, etaTrial) = (rawVector(n), rawVector(n), rawVector(n), rawVector(n), rawVector(n), rawVector(n), rawVector(n))
        (beta, betaSaved, gBeta, hb) = (rawVector(p), rawVector(p), rawVector(p), rawVector(p))
        (z, rhs, diag) = (rawVector(p + 1), rawVector(p + 1), rawVector(p + 1))
        for i in 0..<n { tt[i] = t[i] }
    }

    deinit {
        for v in [tt, eta, resid, w, dEta, tmpN, etaTrial, beta, betaSaved, gBeta, hb, z, rhs, diag] { v.deallocate() }
    }

    /// Σ softplus(η) − tη + ½λ‖β‖².
    func loss(_ eta: UnsafePointer<Double>, betaNormSquared: Double) -> Double {
        var s = 0.0
        var i = 0
        while i < n { s += softplus(eta[i]) - tt[i] * eta[i]; i += 1 }
        return s + 0.5 * lambda * betaNormSquared
    }

    /// Fills resid = σ(η) − t and the row weights w = σ(1 − σ); returns (g_c, ‖g‖₂), g_β in gBeta.
    func gradient() -> (gc: Double, norm: Double) {
        var gc = 0.0
        var i = 0
        while i < n {
            let pr = logisticFunction(eta[i])
            resid[i] = pr - tt[i]
            w[i] = max(pr * (1 - pr), LogisticSolver.minimumRowWeight)
            gc += resid[i]
            i += 1
        }
        X.multiplyTransposed(resid, into: gBeta)
        var s = gc * gc
        var j = 0
        while j < p {
            gBeta[j] += lambda * beta[j]
            s += gBeta[j] * gBeta[j]
            j += 1
        }
        return (gc, s.squareRoot())
    }

    /// η = c + X_c β.
    func setEta() {
        X.multiply(beta, into: eta)
        for i in 0..<n { eta[i] += c }
    }

    /// Hessian-vector product on v = (v_β, v_c): u = W (v_c + X_c v_β); H v = (X_cᵀu + λ v_β, Σu).
    func applyHessian(_ v: UnsafePointer<Double>, _ out: RawVector) {
        let vc = v[p]
        X.multiply(v, into: tmpN)
        var su = 0.0
        var i = 0
        while i < n {
            tmpN[i] = w[i] * (vc + tmpN[i])
            su += tmpN[i]
            i += 1
        }
        X.multiplyTransposed(tmpN, into: hb)
        var j = 0
        while j < p { out[j] = hb[j] + lambda * v[j]; j += 1 }
        out[p] = su
    }

    /// z ≈ −H⁻¹g by Jacobi-preconditioned CG to `tolerance`, and dEta = z_c + X_c z_β, the
    /// change of η along it. Returns the CG iterations.
    func newtonDirection(gc: Double, tolerance: Double, maxIterations: Int) -> Int {
        X.gramDiagonal(rowWeights: w, into: diag)
        var sumW = 0.0
        for i in 0..<n { sumW += w[i] }
        for j in 0..<p { diag[j] += lambda; rhs[j] = -gBeta[j] }
        diag[p] = sumW
        rhs[p] = -gc
        z.update(repeating: 0, count: p + 1)
        let iterations = preconditionedCG(b: rhs, x: z, count: p + 1, diagonal: diag, tolerance: tolerance,
                                          maxIterations: maxIterations, startsAtZero: true, apply: applyHessian)
        let sc = z[p]
        X.multiply(z, into: dEta)
        for i in 0..<n { dEta[i] += sc }
        return iterations
    }

    /// Backtracking along z from α = 1, halving until Armijo's condition holds (or at once when
    /// the loss cannot judge the step); moves β, c and f there. False when no step was accepted.
    func lineSearch(slope: Double, judgeable: Bool) -> Bool {
        var alpha = 1.0
        for _ in 0..<LogisticSolver.maxBacktracks {
            for i in 0..<n { etaTrial[i] = eta[i] + alpha * dEta[i] }
            var sq = 0.0
            for j in 0..<p { let b = beta[j] + alpha * z[j]; sq += b * b }
            let fNew = loss(etaTrial, betaNormSquared: sq)
            if !judgeable || fNew <= f + LogisticSolver.armijo * alpha * slope {
                for j in 0..<p { beta[j] += alpha * z[j] }
                c += alpha * z[p]
                f = fNew
                return true
            }
            alpha *= LogisticSolver.backtrackFactor
        }
        return false
    }

    /// Keeps β, c and f, for `restorePoint` to return to (η recomputed).
    func savePoint() {
        betaSaved.update(from: beta, count: p)
        cSaved = c
        fSaved = f
    }

    func restorePoint() {
        beta.update(from: betaSaved, count: p)
        c = cSaved
        f = fSaved
        setEta()
    }
}
