import Plot

/// A self-contained HTML page of headings, text, tables and inline SVG charts: no script, no
/// style sheet, font or image fetched from anywhere, so it opens offline in any browser.
///
/// The output is XHTML-compatible (void elements self-closed, every text and attribute value
/// escaped in full), so an XML parser reads it as well as a browser does.
public struct ReportPage: Sendable, Hashable {
    /// A piece of running text.
    public enum Inline: Sendable, Hashable, ExpressibleByStringLiteral {
        case text(String)
        case code(String)
        case strong(String)
        /// A link to a file beside the page (a relative path).
        case link(String, href: String)

        public init(stringLiteral value: String) { self = .text(value) }
    }

    public enum Block: Sendable, Hashable {
        /// A section heading (h2), with the anchor `id` the contents link to.
        case section(String, id: String)
        case subheading(String)
        case paragraph([Inline])
        case list([[Inline]])
        case table(header: [String], rows: [[String]])
        case chart(XYChart)
        case bars(BarChart)
    }

    public var title: String
    public var blocks: [Block]

    public init(title: String, blocks: [Block]) {
        self.title = title
        self.blocks = blocks
    }

    /// The page's style: plain, readable, print-friendly.
    static let css = """
        body { font-family: sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
        h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ccc; } h3 { margin-top: 1.6rem; }
        table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
        th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
        th:first-child, td:first-child { text-align: left; }
        thead th { background: #f2f2f2; }
        code { background: #f4f4f4; padding: 0 0.2rem; }
        svg.chart { display: block; max-width: 100%; height: auto; margin: 0.6rem 0 1.4rem; }
        nav ul { columns: 2; }
        """

    /// The page as HTML5 text (with the doctype).
    public func html() -> String {
        let sections = blocks.compactMap { b -> (String, String)? in
            if case .section(let t, let id) = b { return (t, id) }
            return nil
        }
        let nav: Node<HTML.BodyContext> = sections.isEmpty ? .empty : .element(named: "nav", nodes: [
            .ul(.group(sections.map { t, id in .li(.a(.attr("href", "#" + id), .escaped(t))) })),
        ])
        let document = HTML(
            .attr("lang", "en"),
            .head(.selfClosedElement(named: "meta", attributes: [Attribute<HTML.HeadContext>(name: "charset", value: "utf-8")]),
                  .element(named: "title", nodes: [.escaped(title)]),
                  .style(Self.css)),
            .body(.h1(.escaped(title)), nav, .group(blocks.map(\.node))))
        return document.render() + "\n"
    }
}

extension ReportPage.Inline {
    var node: Node<HTML.BodyContext> {
        switch self {
        case .text(let s): .escaped(s)
        case .code(let s): .code(.escaped(s))
        case .strong(let s): .strong(.escaped(s))
        case .link(let s, let href): .a(.attr("href", href), .escaped(s))
        }
    }
}

extension ReportPage.Block {
    var node: Node<HTML.BodyContext> {
        switch self {
        case .section(let t, let id): .h2(.attr("id", id), .escaped(t))
        case .subheading(let t): .h3(.escaped(t))
        case .paragraph(let inlines): .p(.group(inlines.map(\.node)))
        case .list(let items): .ul(.group(items.map { item in .li(.group(item.map(\.node))) }))
        case .table(let header, let rows):
            .table(.thead(.tr(.group(header.map { .th(.escaped($0)) }))),
                   .tbody(.group(rows.map { row in .tr(.group(row.map { .td(.escaped($0)) })) })))
        case .chart(let chart): .component(chart.node())
        case .bars(let chart): .component(chart.node())
        }
    }
}
