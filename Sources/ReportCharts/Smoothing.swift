/// The smoothing the charts offer, always drawn over the raw points and named in the legend.
public enum Smoothing {
    /// The exponential moving average with weight `w` on the past:
    /// s₁ = x₁, sₜ = w·sₜ₋₁ + (1 − w)·xₜ, over the finite values only. A non-finite xₜ leaves
    /// s unchanged and gets NaN (not plotted), so one bad step neither poisons nor hides the line.
    public static func ema(_ values: [Double], weight w: Double) -> [Double] {
        var s: Double?
        return values.map { x in
            guard x.isFinite else { return .nan }
            let next = s.map { w * $0 + (1 - w) * x } ?? x
            s = next
            return next
        }
    }
}
