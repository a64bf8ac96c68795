import CPOSupport
import Foundation
import Plot

/// The context of SVG nodes: Plot's custom elements and attributes, outside HTML's typed DSL.
public enum SVGContext {}

typealias SVGNode = Node<SVGContext>

/// Escaping and number formatting shared by the SVG charts and the HTML page.
///
/// Both are written so that the page is well-formed XML as well as HTML (report.html parses
/// with an XML parser): every text and attribute value is escaped here in full, because Plot
/// writes attribute values verbatim and its text escaping keeps anything shaped like an entity
/// (`a&b;`), which an XML parser rejects unless it is one of XML's five.
public enum Markup {
    /// `s` with `&`, `<`, `>`, `"` and `'` replaced by character references, and characters
    /// XML 1.0 forbids (controls other than tab, newline and carriage return) dropped.
    public static func escape(_ s: String) -> String { XMLText.escaped(s, forbidden: .dropped) }

    /// A pixel coordinate with two decimals and no trailing zeros ("12.5", "-3", "0"). Callers
    /// pass finite numbers only; a non-finite one is a bug upstream and gives "0", so that NaN
    /// can never reach an attribute.
    public static func coordinate(_ x: Double) -> String {
        guard x.isFinite else { return "0" }
        let r = (x * 100).rounded() / 100
        var s = String(format: "%.2f", r == 0 ? 0 : r)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s == "-0" ? "0" : s
    }

    /// A data value in full precision (Swift's shortest round-tripping form), for `data-`
    /// attributes; nil for a non-finite value, whose attribute is then left out.
    public static func value(_ x: Double) -> String? { x.isFinite ? "\(x)" : nil }
}

extension Node {
    /// Text escaped in full (see ``Markup``).
    static func escaped(_ text: String) -> Node { .raw(Markup.escape(text)) }

    /// An attribute with its value escaped (Plot writes values verbatim).
    static func attr(_ name: String, _ value: String) -> Node {
        .attribute(named: name, value: Markup.escape(value), ignoreIfValueIsEmpty: false)
    }
}

/// An SVG element: self-closed without children.
func svgElement(_ name: String, _ attributes: KeyValuePairs<String, String>, _ children: [SVGNode] = []) -> SVGNode {
    svgElement(name, attributes.map { ($0.key, $0.value) }, children)
}

func svgElement(_ name: String, _ attributes: [(String, String)], _ children: [SVGNode] = []) -> SVGNode {
    if children.isEmpty {
        return .selfClosedElement(named: name, attributes: attributes.map {
            Attribute<SVGContext>(name: $0.0, value: Markup.escape($0.1), ignoreIfValueIsEmpty: false)
        })
    }
    return .element(named: name, nodes: attributes.map { SVGNode.attr($0.0, $0.1) } + children)
}

/// An SVG `<text>` element.
func svgText(_ text: String, _ attributes: [(String, String)]) -> SVGNode {
    .element(named: "text", nodes: attributes.map { SVGNode.attr($0.0, $0.1) } + [.escaped(text)])
}
