import Foundation

/// The linear map of an axis: `domain` (data) onto `range` (pixels; `range.start` is where
/// `domain.lower` lands, so a y axis has the larger pixel first).
public struct LinearScale: Sendable, Hashable {
    public var domainLower: Double
    public var domainUpper: Double
    public var rangeStart: Double
    public var rangeEnd: Double

    /// `lower < upper`, both finite (``Ticks/nice(lower:upper:count:integer:)`` makes them so).
    public init(domain lower: Double, _ upper: Double, range start: Double, _ end: Double) {
        domainLower = lower
        domainUpper = upper
        rangeStart = start
        rangeEnd = end
    }

    /// The pixel of `v`: start + (v − lower) / (upper − lower) · (end − start).
    public func position(_ v: Double) -> Double {
        rangeStart + (v - domainLower) / (domainUpper - domainLower) * (rangeEnd - rangeStart)
    }

    /// The inverse: the value at pixel `p`.
    public func value(atPosition p: Double) -> Double {
        domainLower + (p - rangeStart) / (rangeEnd - rangeStart) * (domainUpper - domainLower)
    }
}

/// Round tick values for an axis: steps of 1, 2 or 5 times a power of ten.
public struct Ticks: Sendable, Hashable {
    /// The axis' domain, widened to whole steps.
    public var lower: Double
    public var upper: Double
    public var step: Double
    public var values: [Double]

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

    /// A tick's label: as many decimals as the step needs ("0.25" → 2), or the exponent form
    /// for very large or very small numbers.
    public func label(_ v: Double) -> String {
        let big = max(abs(lower), abs(upper))
        if big >= 1e6 || step < 1e-5 { return String(format: "%g", v) }
        let decimals = max(0, -Int(Foundation.log10(step).rounded(.down)))
        let s = String(format: "%.\(decimals)f", v)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s
    }
}
