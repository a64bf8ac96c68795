import CausalPO
import Foundation
import Testing
@testable import Bridge

@Suite("ghat.json and ghat score")
struct PortableOutcomeModelTests {
    static let words = ["river", "bank", "picnic", "band", "kids", "rolls", "mayor", "skip", "green", "helper", "don't", "well-known"]

    static func texts(_ n: Int, seed: Int) -> [String] {
        (0..<n).map { i in (0..<(3 + (i * 7 + seed) % 6)).map { words[(i * 31 + $0 * 17 + seed) % words.count] }.joined(separator: " ") }
    }

    static func fitted(_ kind: OutcomeModelKind, negated: Bool = false) throws -> CrossFittedOutcomeModel {
        let t = texts(120, seed: 1)
        let y = t.enumerated().map { i, s in
            let v = Double(s.split(separator: " ").filter { $0 == "river" || $0 == "picnic" }.count) + Double(i % 3) / 4
            return kind == .logistic ? (v > 1 ? 1 : 0) : v
        }
        return try CrossFittedOutcomeModel.fit(texts: t, outcomes: y, kind: kind, folds: 4, seed: 9, negateOutcomes: negated)
    }

    @Test(arguments: [OutcomeModelKind.ridge, .logistic])
    func predictionsAndTheJSONRoundTripAreExact(kind: OutcomeModelKind) throws {
        let model = try Self.fitted(kind, negated: kind == .ridge)
        let portable = PortableOutcomeModel(model)
        let fresh = Self.texts(80, seed: 5) + ["", "RIVER river!", "unseen words only"]
        #expect(portable.predict(fresh).map(\.bitPattern) == model.predict(fresh).map(\.bitPattern))
        #expect(portable.models.allSatisfy { $0.values.allSatisfy { $0 != 0 } })
        let bytes = try JSONEncoder().encode(portable)
        let back = try GhatScoring.decodeModel(Array(bytes), file: "ghat.json")
        #expect(back == portable)
        #expect(back.predict(fresh).map(\.bitPattern) == model.predict(fresh).map(\.bitPattern))
        let object = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        #expect(Set(object.keys) == ["format", "version", "kind", "featurizer", "combine", "negated_outcomes", "models"])
        #expect(object["negated_outcomes"] as? Bool == (kind == .ridge))
    }

    func message(_ json: String) -> String {
        do {
            _ = try GhatScoring.decodeModel(Array(json.utf8), file: "g.json")
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test func badFilesAreNamedClearly() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let good = String(decoding: try encoder.encode(PortableOutcomeModel(Self.fitted(.ridge))), as: UTF8.self)
        #expect(message(good) == "accepted")
        #expect(message(good.replacingOccurrences(of: "\"version\":1", with: "\"version\":7")).contains("version 7 is not one this cpo-tui reads"))
        #expect(message(good.replacingOccurrences(of: "cpo-tui-ghat", with: "something")).contains("not a cpo-tui ĝ file"))
        #expect(message("{\"format\": \"cpo-tui-ghat\",\n \"version\": 1,, }").hasPrefix("g.json:2:15: not valid JSON"))
        for k in 1..<40 {
            let cut = message(String(good.prefix(good.count * k / 40)))
            #expect(cut.hasPrefix("g.json:1:") && cut.contains("cut off"), "\(cut)")
        }
        #expect(message(good.replacingOccurrences(of: "\"combine\":\"mean\"", with: "\"combine\":\"max\"")).contains("combine"))
        #expect(message(good.replacingOccurrences(of: "\"dimension\":16384", with: "\"dimension\":0")).contains("dimension"))
        #expect(message(good.replacingOccurrences(of: "\"indices\":[", with: "\"indices\":[99999999,")).contains("damaged"))
        #expect(message(good.replacingOccurrences(of: "\"kind\":\"ridge\"", with: "\"kind\":\"forest\"")).contains("damaged"))
    }

    func temp(_ name: String, _ contents: String) throws -> String {
        let dir = NSTemporaryDirectory() + "cpo-ghat-tests-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func scoringKeepsEveryOtherKeyAndRefusesBadInput() throws {
        let model = try Self.fitted(.logistic)
        let portable = PortableOutcomeModel(model)
        let input = try temp("in.jsonl", """
            {"id": "f0-0", "sample": "river picnic kids", "ghat": 0.25, "meta": {"a": [1, 2.50e0]}}
            
            {"sample": "bank\\n\\"quoted\\" band", "n": -0.0}\r
            """)
        let out = input + ".scored"
        #expect(try GhatScoring.score(model: portable, input: input, output: out, textKey: "sample") == 2)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
        let g = model.predict(["river picnic kids", "bank\n\"quoted\" band"])
        #expect(lines == [
            "{\"id\": \"f0-0\", \"sample\": \"river picnic kids\", \"ghat\": \(g[0]), \"meta\": {\"a\": [1, 2.50e0]}}",
            "{\"sample\": \"bank\\n\\\"quoted\\\" band\", \"n\": -0.0, \"ghat\": \(g[1])}",
        ])
        func failure(_ contents: String, key: String = "text") throws -> String {
            let p = try temp("bad.jsonl", contents)
            do { try GhatScoring.score(model: portable, input: p, output: p + ".out", textKey: key) } catch { return error.description }
            return "accepted"
        }
        #expect(try failure("{\"text\": \"a\"}\n{\"text\": \"b\", }\n").contains("bad.jsonl:2:15: not valid JSON"))
        #expect(try failure("{\"text\": \"a\"}\n{\"text\": \"b").contains("cut off"))
        #expect(try failure("{\"text\": 3}\n").contains("bad.jsonl:1: \"text\" holds a number"))
        #expect(try failure("{\"txt\": \"a\"}\n").contains("--text-key"))
        #expect(try failure("\n\n").contains("no JSON objects"))
        #expect(try failure("[1, 2]\n").contains("not a JSON object"))
        #expect(try failure("{\"text\": \"café\"}\n") == "accepted")
        let p = try temp("same.jsonl", "{\"text\": \"a\"}\n")
        #expect(throws: BridgeError.self) { try GhatScoring.score(model: portable, input: p, output: p) }
        #expect(try String(contentsOfFile: p, encoding: .utf8) == "{\"text\": \"a\"}\n")
    }

    @Test func jsonTextRendersNumbersThatReadBackExactly() throws {
        let xs: [Double] = [53, 0.1, 1e-5, -2.5e-300, 1e300, 123456789.123456789]
        let line = JSONText.array(xs.map(JSONText.number)).rendered()
        let back = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Double])
        #expect(back.map(\.bitPattern) == xs.map(\.bitPattern))
        #expect(JSONText.number(.nan).rendered() == "null")
        #expect(JSONText.string("a\"b\\c\n\u{01}é").rendered() == "\"a\\\"b\\\\c\\n\\u0001é\"")
        #expect(JSONText.float(2e-5).rendered() == "2e-05")
    }
}
