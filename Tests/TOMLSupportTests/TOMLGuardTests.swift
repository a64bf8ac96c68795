import Foundation
import Testing
@testable import TOMLSupport

@Suite("the TOML guard")
struct TOMLGuardTests {
    /// Inputs toml++ 3.4 aborts on (debug) or has undefined behaviour on (release), minimized
    /// from the fuzz cases that found them: each is refused before it reaches toml++.
    @Test func refusesWhatTomlPlusPlusCannotSurvive() {
        var cases: [(String, TOMLGuard.Problem.Kind, Int, Int)] = [
            ("[\n", .headerName, 1, 2),
            ("e=\"\"\ns=[\"\"]\n[\n", .headerName, 3, 2),
            ("a = 1\n  [ =]\n", .headerName, 2, 5),
            ("[[#]]", .headerName, 1, 3),
            ("[[ .a]]", .headerName, 1, 4),
            ("[é]", .headerName, 1, 2),
            ("s=[0,}", .arrayElement, 1, 6),
            ("s=[}", .arrayElement, 1, 4),
            ("s=[0,\n  # c\n  }", .arrayElement, 3, 3),
            ("t={a=[}]}", .arrayElement, 1, 7),
            ("s=[\u{2028}]", .arrayElement, 1, 4),
            ("s=[1,\u{85}]", .arrayElement, 1, 6),
            ("s=1979-05-27T:", .dateTime, 1, 14),
            ("t = { a = 2024-02-29t: }", .dateTime, 1, 22),
            ("u = [\n  1979-05-27TZ:00,\n]", .dateTime, 2, 14),
            ("e=1979-05-27 1,", .dateTime, 1, 15),
            ("e = [1_979--5-27 1]", .dateTime, 1, 19),
            ("e = 0979-05-27 1 # c", .dateTime, 1, 17),
            ("t=0994-10-2s 9\n", .dateTime, 1, 15),
            ("a = \"\\u0000\"", .escapedNUL, 1, 6),
            ("\"k\\U00000000\" = 1", .escapedNUL, 1, 3),
            ("a = \"x\"\nb = 'y\u{0}'", .nul, 2, 7),
            ("\u{0}", .nul, 1, 1),
        ]
        // Deep nesting through dotted keys: toml++ frees nested tables recursively.
        let parts = TOMLGuard.maxDepth + 1
        cases.append((Array(repeating: "a", count: parts).joined(separator: ".") + " = 1", .tooDeep, 1, 2 * parts - 2))
        cases.append(("[" + Array(repeating: "b", count: parts).joined(separator: " . ") + "]", .tooDeep, 1, 4 * parts - 4))
        cases.append(("[x]\ny = " + String(repeating: "{ a.b = ", count: 50), .tooDeep, 2, 5 + 8 * 42))
        for (text, kind, line, column) in cases {
            let p = TOMLGuard.check(text)
            #expect(p?.kind == kind && p?.line == line && p?.column == column, "\(text.debugDescription): \(String(describing: p))")
        }
    }

    /// Valid TOML is never refused: brackets in strings, comments, multi-line arrays and
    /// inline tables are not headers or elements.
    @Test func letsValidTOMLThrough() throws {
        let valid = [
            "[a]\n[ b ]\n[\tc.d ]\n[\"e f\"]\n['g']\n[[h]]\n[[ i ]]\n[a.\"[x]\"]\n",
            "a = [\n  [\n    1, 2\n  ],\n  [ ],\n]\n",
            "a = [ # comment [\n  1, # } ,\n  2,\n]\nb = 'x [ y'\nc = \"}\\\"[\"\n",
            "s = \"\"\"\n[\nnot a header\n}\n\"\"\"\nt = '''\n[\n'''\nu = \"\"\"a\"\"\"\"\n[ok]\n",
            "t = { a = [\n 1,\n 2 ], b = { c = [] } }\n[next]\n",
            "# [ not a header\n  [indented]\nkey = \"[\"  # ]\n",
            "a = []\nb = [[]]\nc = [{}]\nd = [ {}, { x = 1 } ]\n",
            "[a]\r\nb = [\r\n  1,\r\n]\r\n[c]\r\n",
            "a = 1979-05-27T07:32:00Z\nb = 1979-05-27 07:32:00\nc = 1979-05-27\nd = [1979-05-27t00:00:00, 1979-05-27]\n"
                + "1979-05-27tx = 1\ne = \"1979-05-27T:\"\nf = [1979-05-27 07:32:00, 1979-05-27, 1979-05-27 ]\n"
                + "g = \"\\\\u0000 \\u0001 \\U00000041\"\nh = '\\u0000'\n",
            // The depth limit itself: exactly maxDepth levels pass.
            Array(repeating: "a", count: TOMLGuard.maxDepth).joined(separator: ".") + " = 1.5\n"
                + "[" + Array(repeating: "\"x.y\"", count: TOMLGuard.maxDepth).joined(separator: ".") + "]\n",
        ]
        for text in valid {
            #expect(TOMLGuard.check(text) == nil, "\(text.debugDescription)")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var shipped = 0
        for folder in ["sample-data/worlds", "themes"] {
            let dir = root.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".toml") {
                let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                #expect(TOMLGuard.check(text) == nil, "\(folder)/\(name)")
                shipped += 1
            }
        }
        #expect(shipped >= 7)
    }
}
