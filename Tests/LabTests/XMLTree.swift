import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// An element of a parsed XML document (report.html and its SVG charts), for the report tests.
final class XMLNode: @unchecked Sendable {
    let name: String
    let attributes: [String: String]
    var children: [XMLNode] = []
    /// The text directly inside the element.
    var text = ""

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    subscript(_ attribute: String) -> String? { attributes[attribute] }

    /// This element and every element under it, in document order.
    var descendants: [XMLNode] { [self] + children.flatMap(\.descendants) }

    /// The elements under (and including) this one named `name` whose attributes include `matching`.
    func all(_ name: String, _ matching: [String: String] = [:]) -> [XMLNode] {
        descendants.filter { node in node.name == name && matching.allSatisfy { k, v in node.attributes[k] == v } }
    }

    /// All the text in and under this element.
    var allText: String { text + children.map(\.allText).joined() }
}

/// XMLParser (libxml2) reading a whole document into `XMLNode`s; a document that is not
/// well-formed XML throws with the parser's line and column.
enum XMLTree {
    struct NotWellFormed: Error, CustomStringConvertible {
        var line: Int
        var column: Int
        var message: String
        var description: String { "not well-formed XML at line \(line), column \(column): \(message)" }
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLNode] = [XMLNode(name: "#document", attributes: [:])]

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            let node = XMLNode(name: name, attributes: attributes)
            stack.last?.children.append(node)
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            stack.removeLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { stack.last?.text += string }
    }

    /// The document's root element.
    static func parse(_ text: String) throws -> XMLNode {
        let parser = XMLParser(data: Data(text.utf8))
        let builder = Builder()
        parser.delegate = builder
        guard parser.parse(), let root = builder.stack.first?.children.first else {
            throw NotWellFormed(line: parser.lineNumber, column: parser.columnNumber,
                                message: parser.parserError.map { "\($0)" } ?? "no root element")
        }
        return root
    }
}

/// A chart's axis read back from its SVG as a reader would: the tick labels' numbers at their
/// grid lines' pixels define the linear map from pixels back to values.
struct ReadAxis {
    var p1: Double, v1: Double, p2: Double, v2: Double

    struct Unreadable: Error {}

    /// `axis` "x" or "y" of `svg` (an `<svg>` element).
    init(_ svg: XMLNode, _ axis: String) throws {
        guard let g = svg.all("g", ["data-axis": axis]).first else { throw Unreadable() }
        let ticks: [(Double, Double)] = g.all("g", ["class": "tick"]).compactMap { t in
            guard let line = t.all("line").first, let p = Double(line[axis == "y" ? "y1" : "x1"] ?? ""),
                  let v = Double(t.all("text").first?.allText ?? "") else { return nil }
            return (p, v)
        }
        guard let first = ticks.first, let last = ticks.last, first.1 != last.1 else { throw Unreadable() }
        (p1, v1, p2, v2) = (first.0, first.1, last.0, last.1)
    }

    /// The value at pixel `p`.
    func value(_ p: Double) -> Double { v1 + (p - p1) * (v2 - v1) / (p2 - p1) }

    /// How much value one pixel is worth: coordinates are written to 0.01 px, so a value read
    /// back is within 0.005 px of this of the true one.
    var valuePerPixel: Double { abs((v2 - v1) / (p2 - p1)) }
}
