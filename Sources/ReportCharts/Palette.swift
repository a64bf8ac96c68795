/// Colours the charts draw with: Okabe and Ito's palette, told apart by the common forms of
/// colour blindness. Every series also has its own dash pattern, so charts read in grey too.
public enum Palette {
    /// Blue, vermillion, bluish green, reddish purple, orange, sky blue, black, yellow (last: it
    /// is faint on white).
    public static let okabeIto = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

    /// The colour of series `index` (wrapping around).
    public static func colour(_ index: Int) -> String { okabeIto[((index % okabeIto.count) + okabeIto.count) % okabeIto.count] }

    /// Line dash patterns (SVG `stroke-dasharray`), one per series; "" is solid.
    public static let dashes = ["", "7 3", "2 3", "9 3 2 3"]

    /// The dash pattern of series `index` (wrapping around).
    public static func dash(_ index: Int) -> String { dashes[((index % dashes.count) + dashes.count) % dashes.count] }
}
