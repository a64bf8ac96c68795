import CPOSupport
import Foundation
import Testing
import TOMLKit
@testable import TOMLSupport

/// The loading path world and theme files share: each step's failure is its own reason, with
/// the file and, where there is one, the line and column.
@Suite("TOML files")
struct TOMLFileTests {
    func failure(_ body: () throws(TOMLFileError) -> TOMLDocument) -> TOMLFileError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func parsesAndLocates() throws {
        let doc = try TOMLFile.parse("\u{FEFF}a = 1\n[t]\nb = [1,\n  2]\n", file: "x.toml")
        #expect(doc.file == "x.toml")
        #expect(doc.root["a"]?.int == 1)
        #expect(doc.position(of: "t.b[1]") == TOMLLocator.Position(line: 4, column: 3))
        #expect(doc.position(of: "t.nothing")?.line == 2)
    }

    @Test func eachStepFailsWithItsReasonAndPlace() throws {
        let bad = failure { () throws(TOMLFileError) in try TOMLFile.parse(bytes: Array("a = \"x".utf8) + [0xFF], file: "f") }
        #expect(bad?.line == 1 && bad?.column == 7)
        guard case .notUTF8(let p)? = bad?.reason else { Issue.record("\(String(describing: bad))"); return }
        #expect(p.bytes == [0xFF])

        let nul = failure { () throws(TOMLFileError) in try TOMLFile.parse("a = 1\nb = \"\u{0}\"", file: "f") }
        guard case .refused(let g)? = nul?.reason else { Issue.record("\(String(describing: nul))"); return }
        #expect(g.kind == .nul && nul?.line == 2 && nul?.column == 6)

        let syntax = failure { () throws(TOMLFileError) in try TOMLFile.parse("a = 1\nb = = 2\n", file: "f") }
        guard case .syntax(let description)? = syntax?.reason else { Issue.record("\(String(describing: syntax))"); return }
        #expect(!description.isEmpty && syntax?.line == 2 && syntax?.column != nil && syntax?.file == "f")
    }

    @Test func loadReadsBoundedAndNamesThePath() throws {
        let dir = NSTemporaryDirectory() + "cpo-toml-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/x.toml"
        try "name = \"x\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try TOMLFile.load(path: path, maxBytes: 100).root["name"]?.string == "x")
        let big = failure { () throws(TOMLFileError) in try TOMLFile.load(path: path, maxBytes: 4) }
        #expect(big == TOMLFileError(file: path, reason: .unreadable(.tooLarge(path: path, size: 11, limit: 4))))
        let missing = failure { () throws(TOMLFileError) in try TOMLFile.load(path: dir + "/no.toml", maxBytes: 100) }
        #expect(missing == TOMLFileError(file: dir + "/no.toml", reason: .unreadable(.notFound(path: dir + "/no.toml"))))
    }

    @Test func unknownKeysComeInFileOrder() throws {
        let doc = try TOMLFile.parse("zeta = 1\nok = 2\nalpha = 3\n[t]\nb = 1\nc = 2\n", file: "f")
        #expect(doc.firstUnknownKey(in: doc.root, at: "", allowed: ["ok", "t"])! == ("zeta", "zeta"))
        let t = try #require(doc.root["t"]?.table)
        #expect(doc.firstUnknownKey(in: t, at: "t", allowed: ["b"])! == ("c", "t.c"))
        #expect(doc.firstUnknownKey(in: t, at: "t", allowed: ["b", "c"]) == nil)
    }
}
