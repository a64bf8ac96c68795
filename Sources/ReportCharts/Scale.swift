import Foundation

/// The map of an axis: `domain` (data) onto `range` (pixels; `range.start` is where
/// `domain.lower` lands, so a y axis has the larger pixel first). Linear, or linear in log v
/// when `logarithmic` (then the domain must be positive).
public struct LinearScale: Sendable, Hashable {
    public var domainLower: Double
    public var domainUpper: Double
    public var rangeStart: Double
    public var rangeEnd: Double
    /// Equal ratios take equal lengths (a Λ or a rate axis): positions are linear in log v.
    public var logarithmic: Bool

    /// `lower < upper`, both finite (``Ticks/nice(lower:upper:count:integer:)`` makes them so),
    /// and both positive when `logarithmic`.
    public init(domain lower: Double, _ upper: Double, range start: Double, _ end: Double, logarithmic: Bool = false) {
        domainLower = lower
        domainUpper = upper
        rangeStart = start
        rangeEnd = end
        self.logarithmic = logarithmic
    }

    func axis(_ v: Double) -> Double { logarithmic ? Foundation.log(v) : v }

    /// The pixel of `v`: start + (v − lower) / (upper − lower) · (end − start), with each of v,
    /// lower and upper taken in log on a logarithmic scale.
    public func position(_ v: Double) -> Double {
        rangeStart + (axis(v) - axis(domainLower)) / (axis(domainUpper) - axis(domainLower)) * (rangeEnd - rangeStart)
    }

    /// The inverse: the value at pixel `p`.
    public func value(atPosition p: Double) -> Double {
        let t = axis(domainLower) + (p - rangeStart) / (rangeEnd - rangeStart) * (axis(domainUpper) - axis(domainLower))
        return logarithmic ? Foundation.exp(t) : t
    }
}

/// Round tick values for an axis: steps of 1, 2 or 5 times a power of ten.
public struct Ticks: Sendable, Hashable {
    /// The axis' domain, widened to whole steps.
    public var lower: Double
    public var upper: Double
    /// The spacing of the ticks (0 on a logarithmic axis, whose ticks are not evenly spaced).
    public var step: Double
    public var values: [Double]
    /// Ticks of a logarithmic axis (``logarithmic(lower:upper:)``), labelled in short form.
    public var logarithmic = false

    /// Values beyond this are treated as infinite by the charts (skipped, not plotted): their
    /// spans overflow.
    public static let largest = 1e300

    /// Ticks covering [lower, upper] with about `count` values. An empty span is widened (by 5%
    /// of the value, or by 1 around 0) so that a constant series still gets an axis; with
    /// `integer` the step is at least 1 (epochs, steps).
    public static func nice(lower: Double, upper: Double, count: Int = 5, integer: Bool = false) -> Ticks {
        guard lower.isFinite, upper.isFinite else { return Ticks(lower: -1, upper: 1, step: 1, values: [-1, 0, 1]) }
        var lo = min(lower, upper), hi = max(lower, upper)
        // A span too small for doubles to step through (or none) is widened around the value.
        if !(hi - lo > max(abs(lo), abs(hi), 1e-200) * 1e-12) {
            let pad = lo == 0 ? 1 : abs(lo) * 0.05
            lo -= pad
            hi += pad
        }
        let raw = (hi - lo) / Double(max(1, count - 1))
        let magnitude = Foundation.pow(10, (Foundation.log10(raw)).rounded(.down))
        let f = raw / magnitude
        // The nice step nearest the raw one (on a log scale: the cut between 1 and 2 is √2).
        var step = (f >= 50.0.squareRoot() ? 10 : f >= 10.0.squareRoot() ? 5 : f >= 2.0.squareRoot() ? 2 : 1) * magnitude
        if integer { step = max(1, step.rounded(.up)) }
        guard step.isFinite, step > 0, (hi - lo).isFinite else { return Ticks(lower: lo, upper: hi, step: hi - lo, values: [lo, hi]) }
        let first = (lo / step).rounded(.down) * step
        let last = (hi / step).rounded(.up) * step
        let n = Int(((last - first) / step).rounded()) + 1
        let values = (0..<max(n, 2)).map { i -> Double in
            let v = first + Double(i) * step
            return abs(v) < step * 1e-9 ? 0 : v
        }
        return Ticks(lower: first, upper: values.last ?? last, step: step, values: values)
    }

    /// Ticks of a logarithmic axis over [lower, upper] (both > 0): readable mantissas times powers
    /// of ten, finer the fewer decades the span covers (1, 1.5, 2, 3, 5, 7 within one; 1, 2, 5 up
    /// to three; powers of ten beyond). The domain is the span itself, widened by half when empty.
    public static func logarithmic(lower: Double, upper: Double) -> Ticks {
        guard lower.isFinite, upper.isFinite, lower > 0, upper > 0 else {
            return Ticks(lower: 1, upper: 10, step: 0, values: [1, 10], logarithmic: true)
        }
        var lo = min(lower, upper), hi = max(lower, upper)
        if !(hi > lo * (1 + 1e-9)) {
            lo /= 1.5
            hi *= 1.5
        }
        let decades = Foundation.log10(hi / lo)
        let mantissas: [Double] = decades <= 1.2 ? [1, 1.5, 2, 3, 5, 7] : decades <= 3 ? [1, 2, 5] : [1]
        var values: [Double] = []
        let first = Int(Foundation.log10(lo).rounded(.down)), last = Int(Foundation.log10(hi).rounded(.up))
        for k in first...max(first, last) {
            for m in mantissas {
                let v = m * Foundation.pow(10, Double(k))
                if v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) { values.append(v) }
            }
        }
        return Ticks(lower: lo, upper: hi, step: 0, values: values, logarithmic: true)
    }

    /// A tick's label: as many decimals as the step needs ("0.25" → 2), or the exponent form
    /// for very large or very small numbers (and on a logarithmic axis, the shortest form).
    public func label(_ v: Double) -> String {
        if logarithmic { return String(format: "%g", v) }
        let big = max(abs(lower), abs(upper))
        if big >= 1e6 || step < 1e-5 { return String(format: "%g", v) }
        let decimals = max(0, -Int(Foundation.log10(step).rounded(.down)))
        let s = String(format: "%.\(decimals)f", v)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s
    }
}
