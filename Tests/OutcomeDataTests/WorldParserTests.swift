import Foundation
import CPOSupport
import TOMLSupport
import Testing
@testable import OutcomeData

/// Shared fixtures for the world tests.
enum WorldFixtures {
    /// The example of the first world-format specification, exactly as it was written (two
    /// attributes; WorldFileFormat.md adds the third that `passages = [2, 3]` needs).
    static let contractExample = """
        name = "library-appeal"                # required, [a-z0-9-]+
        description = "Appeals to keep a village library open; readers answer 0-100."

        [outcome]
        kind = "continuous"                    # "continuous" (default) or "binary"
        baseline = 55.0                        # continuous: mean response; binary: log-odds
        noise_sd = 18.0                        # continuous only: reader-level Gaussian noise

        [design]
        passages = [2, 3]                      # passages per text, drawn uniformly from this list
        attention = 3                          # readers ignore passages after this many (default 3)
        invalid_effect = -5.0                  # effect of each text segment that matches no passage (default 0)

        [readers]                              # optional; default: no trait
        trait = "regular-patron"
        prevalence = 0.5                       # P(C = +1); C is -1 otherwise
        effect = 10.0                          # beta: a reader's response shifts by beta*C

        [[attribute]]                          # two or more
        name = "urgency"
        effect = 6.0                           # true causal effect of including this attribute
        passages = [
          "The roof money runs out at the end of the month.",
          "Without help the doors close before winter.",
        ]

        [[attribute]]
        name = "guilt"
        effect = -3.0
        passages = ["You walked past us last year, and the year before."]

        [observational]                        # optional: how the logged data were collected
        tilt = { urgency = 1.2, guilt = -0.8 } # log-odds tilt toward an attribute for C=+1 readers
                                               # (and away from it for C=-1); unnamed attributes: 0
        """

    /// The contract example with a third attribute inserted before `[observational]`: as
    /// written, the example asks for texts of 3 passages from only 2 attributes, which the
    /// contract's own error list forbids (see `contractExampleAsWrittenAsksForTooManyPassages`).
    static let example = contractExample.replacingOccurrences(of: "[observational]", with: """
        [[attribute]]
        name = "hope"
        effect = 2.0
        passages = ["With your help the lights stay on."]

        [observational]
        """)

    /// A valid world with nothing optional; error tests start from it.
    static let minimal = """
        name = "tiny"
        [outcome]
        noise_sd = 1.0
        [design]
        passages = [2]
        [[attribute]]
        name = "a"
        effect = 1
        passages = ["Alpha one."]
        [[attribute]]
        name = "b"
        effect = -1
        passages = ["Beta one.", "Beta two."]
        """

    static func world(_ toml: String, file: String = "test.toml") throws -> World {
        try World.parse(toml, file: file)
    }

    /// The error `parse` throws, or nil if it accepts the text.
    static func error(_ toml: String, file: String = "w.toml") -> InputError? {
        do {
            _ = try World.parse(toml, file: file)
            return nil
        } catch {
            return error
        }
    }

    /// 1-based line of the `occurrence`-th line containing `needle` (independent of the locator).
    static func line(of needle: String, in text: String, occurrence: Int = 1) -> Int? {
        var seen = 0
        for (n, l) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where l.contains(needle) {
            seen += 1
            if seen == occurrence { return n + 1 }
        }
        return nil
    }
}

@Suite("world files: parsing")
struct WorldParserTests {
    @Test func contractExampleAsWrittenAsksForTooManyPassages() throws {
        // The specification's example has `passages = [2, 3]` but only two attributes: a text of three
        // distinct attributes cannot be drawn, which is one of the contract's listed errors.
        let e = try #require(WorldFixtures.error(WorldFixtures.contractExample))
        #expect(e.line == 10)
        #expect(e.field == "design.passages")
        #expect(e.message.contains("a text of 3 passages needs 3 distinct attributes, but the world has 2"))
    }

    @Test func parsesTheContractExampleWithAThirdAttribute() throws {
        let w = try WorldFixtures.world(WorldFixtures.example)
        #expect(w.name == "library-appeal")
        #expect(w.description == "Appeals to keep a village library open; readers answer 0-100.")
        #expect(w.outcomeKind == .continuous)
        #expect(w.baseline == 55)
        #expect(w.noiseSD == 18)
        #expect(w.passageCounts == [2, 3])
        #expect(w.attention == 3)
        #expect(w.invalidEffect == -5)
        #expect(w.readers == World.Readers(trait: "regular-patron", prevalence: 0.5, effect: 10))
        #expect(w.attributes == [
            World.Attribute(name: "urgency", effect: 6, passages: [
                "The roof money runs out at the end of the month.",
                "Without help the doors close before winter.",
            ]),
            World.Attribute(name: "guilt", effect: -3,
                            passages: ["You walked past us last year, and the year before."]),
            World.Attribute(name: "hope", effect: 2, passages: ["With your help the lights stay on."]),
        ])
        #expect(w.tilt == ["urgency": 1.2, "guilt": -0.8])
        #expect(w.hasObservationalDesign)
    }

    @Test func locatorFindsHeadersKeysElementsAndInlineKeys() {
        let text = WorldFixtures.contractExample
        let loc = TOMLLocator(text)
        func line(_ path: String) -> Int? { loc.position(of: path)?.line }
        #expect(line("name") == 1)
        #expect(line("outcome") == 4)
        #expect(line("outcome.noise_sd") == 7)
        #expect(line("design.passages") == 10)
        #expect(line("design.passages[1]") == 10)
        #expect(line("readers.prevalence") == 16)
        #expect(line("attribute[0]") == 19)
        #expect(line("attribute[1]") == 27)
        #expect(line("attribute[0].passages") == 22)
        #expect(line("attribute[0].passages[0]") == 23)
        #expect(line("attribute[0].passages[1]") == 24)
        #expect(line("attribute[1].name") == 28)
        #expect(line("attribute[1].passages[0]") == 30)
        #expect(line("observational.tilt.guilt") == 33)
        #expect(loc.position(of: "observational.tilt.guilt")?.column == 25)
        // Unknown paths fall back to the nearest ancestor; unrelated ones find nothing.
        #expect(line("attribute[1].effect.whatever") == 29)
        #expect(line("nowhere") == nil)
    }

    @Test func defaultsApplyWhenOptionalPartsAreAbsent() throws {
        let w = try WorldFixtures.world(WorldFixtures.minimal)
        #expect(w.outcomeKind == .continuous)
        #expect(w.baseline == 0)
        #expect(w.noiseSD == 1)
        #expect(w.attention == 3)
        #expect(w.invalidEffect == 0)
        #expect(w.readers == nil)
        #expect(w.tilt.isEmpty)
        #expect(!w.hasObservationalDesign)
        #expect(w.description == "")
        #expect(w.attributes[0].effect == 1)  // an integer is a number
    }

    @Test func binaryWorldNeedsNoNoiseAndObservationalMayBeEmpty() throws {
        let toml = WorldFixtures.minimal.replacingOccurrences(of: "noise_sd = 1.0", with: "kind = \"binary\"")
            + "\n[observational]\n"
        let w = try WorldFixtures.world(toml)
        #expect(w.outcomeKind == .binary)
        #expect(w.hasObservationalDesign)
        #expect(w.tilt.isEmpty)
    }

    @Test func alternativeTOMLSpellingsLoad() throws {
        // Dotted keys, a [observational.tilt] sub-table, quoted keys, literal and multi-line
        // strings, and attributes as an inline list of tables: all the same world to TOML.
        let toml = """
            name = 'spellings'
            outcome.noise_sd = 2
            outcome.baseline = 1
            design = { passages = [1, 2], attention = 2 }
            attribute = [
              { name = "first", effect = 0.5, passages = ["It's here.", \"\"\"
            A passage on
            two lines.\"\"\"] },
              { name = "second", effect = 1.5e0, passages = ["Another one."] },
            ]
            [observational.tilt]
            "first" = 0.25
            """
        let w = try WorldFixtures.world(toml)
        #expect(w.noiseSD == 2 && w.baseline == 1)
        #expect(w.passageCounts == [1, 2] && w.attention == 2)
        #expect(w.attributes.map(\.name) == ["first", "second"])
        #expect(w.attributes[0].passages == ["It's here.", "A passage on\ntwo lines."])
        #expect(w.tilt == ["first": 0.25])
        let loc = TOMLLocator(toml)
        #expect(loc.position(of: "attribute[1].name")?.line == 9)
        #expect(loc.position(of: "attribute[0].passages[1]")?.line == 6)
        #expect(loc.position(of: "observational.tilt.first")?.line == 12)
        #expect(loc.position(of: "design.attention")?.line == 4)
    }

    @Test func loadsFilesAndShippedWorlds() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("world-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.toml").path
        try WorldFixtures.example.write(toFile: good, atomically: true, encoding: .utf8)
        #expect(try World.load(path: good) == WorldFixtures.world(WorldFixtures.example))

        let bad = dir.appendingPathComponent("bad.toml").path
        try WorldFixtures.minimal.replacingOccurrences(of: "effect = -1", with: "effect = \"-1\"")
            .write(toFile: bad, atomically: true, encoding: .utf8)
        do {
            _ = try World.load(path: bad)
            Issue.record("a string effect was accepted")
        } catch {
            #expect(error.file == bad)
            #expect(error.line == 12)
        }
        do {
            _ = try World.load(path: dir.appendingPathComponent("missing.toml").path)
            Issue.record("a missing file was accepted")
        } catch {
            #expect(error.file.hasSuffix("missing.toml"))
            #expect(error.message.contains("cannot read"))
        }

        // Every world the repository ships must load (the world file format is a contract).
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("sample-data/worlds")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: shipped.path))?
            .filter { $0.hasSuffix(".toml") } ?? []
        for f in files {
            let w = try World.load(path: shipped.appendingPathComponent(f).path)
            #expect(w.name + ".toml" == f)
        }
    }
}

@Suite("world files: errors")
struct WorldErrorTests {
    typealias F = WorldFixtures

    /// `minimal` with `old` replaced by `new` (which must occur).
    static func edit(_ old: String, _ new: String) -> String {
        precondition(F.minimal.contains(old))
        return F.minimal.replacingOccurrences(of: old, with: new)
    }

    @Test func syntaxErrorCarriesTOMLKitPosition() throws {
        let toml = Self.edit("effect = -1", "effect = = -1")
        let e = try #require(F.error(toml))
        #expect(e.file == "w.toml")
        #expect(e.line == 12)
        #expect(e.column != nil)
        #expect(e.message.contains("TOML syntax error"))

        let unterminated = try #require(F.error("name = \"oops\n"))
        #expect(unterminated.line == 1)
        // A key defined twice is a TOML error too.
        let twice = try #require(F.error(F.minimal + "\nname = \"again\""))
        #expect(twice.line == 14)
    }

    @Test func missingOrMalformedName() throws {
        let missing = try #require(F.error(Self.edit("name = \"tiny\"\n", "")))
        #expect(missing.line == nil)
        #expect(missing.field == "name")
        #expect(missing.message.contains("name"))

        for bad in ["Library Appeal", "library_appeal", "", "café"] {
            let e = try #require(F.error(Self.edit("name = \"tiny\"", "name = \"\(bad)\"")))
            #expect(e.line == 1)
            #expect(e.message.contains("lower-case"))
        }
        let number = try #require(F.error(Self.edit("name = \"tiny\"", "name = 7")))
        #expect(number.line == 1)
        #expect(number.message.contains("must be a string"))
    }

    @Test func wrongTypesAndNonFiniteNumbers() throws {
        let toml = Self.edit("noise_sd = 1.0", "noise_sd = 1.0\nbaseline = \"high\"")
        let e = try #require(F.error(toml))
        #expect(e.line == 4)
        #expect(e.field == "outcome.baseline")
        #expect(e.message.contains("must be a number, found string"))

        let nan = try #require(F.error(Self.edit("effect = 1", "effect = nan")))
        #expect(nan.line == 8)
        #expect(nan.message.contains("finite"))

        let attention = try #require(F.error(Self.edit("passages = [2]", "passages = [2]\nattention = 2.5")))
        #expect(attention.line == 6)
        #expect(attention.message.contains("attention must be an integer"))

        let table = try #require(F.error("design = 3\n" + F.minimal.replacingOccurrences(of: "[design]\npassages = [2]\n", with: "")))
        #expect(table.line == 1)
        #expect(table.message.contains("design must be a table"))
    }

    @Test func outcomeFields() throws {
        let negative = try #require(F.error(Self.edit("noise_sd = 1.0", "noise_sd = -2")))
        #expect(negative.line == 3)
        #expect(negative.message.contains("zero or positive"))

        let kind = try #require(F.error(Self.edit("noise_sd = 1.0", "noise_sd = 1.0\nkind = \"ordinal\"")))
        #expect(kind.line == 4)
        #expect(kind.message.contains("ordinal"))
        #expect(kind.hint.contains("binary"))

        let noNoise = try #require(F.error(Self.edit("noise_sd = 1.0", "baseline = 2")))
        #expect(noNoise.line == 2)  // the [outcome] header
        #expect(noNoise.message.contains("noise_sd"))

        let noOutcome = try #require(F.error(Self.edit("[outcome]\nnoise_sd = 1.0\n", "")))
        #expect(noOutcome.line == nil)
        #expect(noOutcome.field == "outcome.noise_sd")
    }

    @Test func readersFields() throws {
        let readers = "[readers]\ntrait = \"t\"\nprevalence = 1.5\neffect = 2\n"
        let toml = Self.edit("[design]", readers + "[design]")
        let e = try #require(F.error(toml))
        #expect(e.line == 6)
        #expect(e.message.contains("prevalence must lie in [0, 1]"))

        let negative = try #require(F.error(toml.replacingOccurrences(of: "1.5", with: "-0.1")))
        #expect(negative.line == 6)

        let missing = try #require(F.error(toml.replacingOccurrences(of: "prevalence = 1.5\n", with: "")))
        #expect(missing.line == 4)  // the [readers] header
        #expect(missing.message.contains("prevalence"))

        let unknown = try #require(F.error(toml.replacingOccurrences(of: "prevalence = 1.5", with: "prevalence = 0.5\nshare = 0.2")))
        #expect(unknown.line == 7)
        #expect(unknown.message.contains("\"share\""))
        #expect(unknown.hint.contains("trait, prevalence, effect"))
    }

    @Test func designPassagesMustBeADistinctListOfUsableCounts() throws {
        let cases: [(String, String)] = [
            ("passages = []", "empty"),
            ("passages = [2, 2]", "twice"),
            ("passages = [0]", "at least 1"),
            ("passages = [\"2\"]", "must hold integers"),
            ("passages = 2", "must be a list"),
            ("passages = [1, 3]", "needs 3 distinct attributes, but the world has 2"),
        ]
        for (line, needle) in cases {
            let e = try #require(F.error(Self.edit("passages = [2]", line)), "\(line)")
            #expect(e.line == 5, "\(line)")
            #expect(e.field == "design.passages")
            #expect(e.message.contains(needle), "\(line): \(e.message)")
        }
        // The offending element is located even when the list spans lines.
        let multi = try #require(F.error(Self.edit("passages = [2]", "passages = [\n  1,\n  2,\n  5,\n]")))
        #expect(multi.line == 8)

        let noDesign = try #require(F.error(Self.edit("[design]\npassages = [2]\n", "")))
        #expect(noDesign.line == nil)
        #expect(noDesign.message.contains("[design]"))

        let noPassages = try #require(F.error(Self.edit("passages = [2]", "attention = 2")))
        #expect(noPassages.line == 4)  // the [design] header
    }

    @Test func attentionMustBePositive() throws {
        for value in ["0", "-1"] {
            let e = try #require(F.error(Self.edit("passages = [2]", "passages = [2]\nattention = \(value)")))
            #expect(e.line == 6)
            #expect(e.field == "design.attention")
            #expect(e.message.contains("at least 1"))
        }
    }

    @Test func attributesNeedNameEffectAndANonEmptyPool() throws {
        let empty = try #require(F.error(Self.edit("passages = [\"Alpha one.\"]", "passages = []")))
        #expect(empty.line == 9)
        #expect(empty.message.contains("attribute \"a\" has an empty pool"))

        let noEffect = try #require(F.error(Self.edit("effect = -1\n", "")))
        #expect(noEffect.line == 10)  // the second [[attribute]] header
        #expect(noEffect.message.contains("\"b\" has no effect"))

        let noName = try #require(F.error(Self.edit("name = \"a\"\n", "")))
        #expect(noName.line == 6)
        #expect(noName.message.contains("attribute 1 has no name"))

        let noPool = try #require(F.error(Self.edit("passages = [\"Alpha one.\"]\n", "")))
        #expect(noPool.line == 6)
        #expect(noPool.message.contains("has no passages"))

        let wordless = try #require(F.error(Self.edit("\"Beta two.\"", "\" ... !\"")))
        #expect(wordless.line == 13)
        #expect(wordless.message.contains("passage 2 of attribute \"b\" has no words"))

        let notString = try #require(F.error(Self.edit("\"Beta two.\"", "3")))
        #expect(notString.line == 13)
        #expect(notString.message.contains("must be a string"))

        let single = try #require(F.error(Self.edit("[[attribute]]\nname = \"b\"\neffect = -1\npassages = [\"Beta one.\", \"Beta two.\"]", "")))
        #expect(single.message.contains("at least two attributes, found 1"))
        #expect(single.line == 6)

        let none = try #require(F.error("name = \"x\"\n[outcome]\nnoise_sd = 1\n[design]\npassages = [1]\n"))
        #expect(none.line == nil)
        #expect(none.message.contains("no attributes"))

        let notArray = try #require(F.error(Self.edit("[[attribute]]\nname = \"a\"", "[attribute]\nname = \"a\"")
            .replacingOccurrences(of: "[[attribute]]\nname = \"b\"\neffect = -1\npassages = [\"Beta one.\", \"Beta two.\"]", with: "")))
        #expect(notArray.line == 6)
        #expect(notArray.hint.contains("[[attribute]]"))
    }

    @Test func duplicateAttributeNames() throws {
        let e = try #require(F.error(Self.edit("name = \"b\"", "name = \"a\"")))
        #expect(e.line == 11)
        #expect(e.message.contains("attribute 2 is named \"a\" like attribute 1 (line 7)"))
    }

    @Test func duplicatePassagesAfterNormalization() throws {
        // Within one attribute, in a list spanning lines: the second copy's line, naming the first.
        let within = Self.edit("passages = [\"Beta one.\", \"Beta two.\"]",
                               "passages = [\n  \"Beta one.\",\n  \"Beta two.\",\n  \"beta   ONE\",\n]")
        let e1 = try #require(F.error(within))
        #expect(e1.line == 16)
        #expect(e1.message.contains("passage 3 of attribute \"b\" duplicates passage 1 of the same attribute (line 14)"))

        // Across attributes: names both attributes and the first line.
        let across = Self.edit("\"Beta two.\"", "\"  ALPHA,   one!\"")
        let e2 = try #require(F.error(across))
        #expect(e2.line == 13)
        #expect(e2.message.contains("passage 2 of attribute \"b\" duplicates passage 1 of attribute \"a\" (line 9)"))
        #expect(e2.message.contains("\"alpha one\""))
        #expect(e2.hint.contains("unique"))

        // In-word apostrophes and hyphens are part of words, so these differ and load.
        let distinct = Self.edit("\"Beta two.\"", "\"Alpha-one.\"")
        #expect(F.error(distinct) == nil)
    }

    @Test func tiltMustNameAnAttribute() throws {
        let inline = F.minimal + "\n[observational]\ntilt = { a = 0.5, zeta = 1.0 }"
        let e = try #require(F.error(inline))
        #expect(e.line == 15)
        #expect(e.column == 19)
        #expect(e.message.contains("\"zeta\""))
        #expect(e.hint.contains("a, b"))

        let table = F.minimal + "\n[observational.tilt]\na = 0.5\n\n# a comment\nzeta = 1.0\n"
        let e2 = try #require(F.error(table))
        #expect(e2.line == 18)

        let badValue = F.minimal + "\n[observational]\ntilt = { a = \"up\" }"
        let e3 = try #require(F.error(badValue))
        #expect(e3.line == 15)
        #expect(e3.message.contains("must be a number"))
    }

    @Test func unknownKeysAreNamedWithTheAllowedOnes() throws {
        let top = try #require(F.error("nmae = \"x\"\n" + F.minimal))
        #expect(top.line == 1)
        #expect(top.message.contains("unknown key \"nmae\" at the top level"))
        #expect(top.hint.contains("name, description, outcome, design, readers, attribute, observational"))

        let design = try #require(F.error(Self.edit("passages = [2]", "passages = [2]\natention = 2")))
        #expect(design.line == 6)
        #expect(design.message.contains("\"atention\""))
        #expect(design.hint.contains("passages, attention, invalid_effect"))

        let attr = try #require(F.error(Self.edit("effect = -1", "effect = -1\neffects = 2")))
        #expect(attr.line == 13)
        #expect(attr.message.contains("\"effects\" in attribute 2"))
        #expect(attr.hint.contains("name, effect, passages"))

        let obs = try #require(F.error(F.minimal + "\n[observational]\ntilts = { a = 1 }"))
        #expect(obs.line == 15)
        #expect(obs.hint.contains("tilt"))
    }

    @Test func locatorIsNotFooledByStringsAndComments() throws {
        // Header-like text inside strings and comments must not shift attribute numbering.
        let toml = """
            name = "tricky"
            description = \"\"\"
            [[attribute]]
            name = "fake" # not a key\"\"\"
            # [[attribute]] in a comment
            [outcome]
            noise_sd = 1.0
            [design]
            passages = [2]
            [[attribute]]
            name = "a"
            effect = 1
            passages = ["Alpha [[attribute]] one.", 'A literal # not a comment']
            [[attribute]]
            name = "b"
            effect = -1
            passages = ["Beta one.", "A LITERAL not a comment"]
            """
        let e = try #require(F.error(toml))
        #expect(e.line == 17)
        #expect(e.message.contains("passage 2 of attribute \"b\" duplicates passage 2 of attribute \"a\" (line 13)"))
    }

    /// Text the fuzz tests found to crash toml++ 3.4 inside TOMLKit (a failed assertion: an
    /// abort in a debug build, undefined behaviour in a release build), minimized. It is
    /// refused before TOMLKit sees it, as a syntax error at the offending character.
    @Test func textThatWouldCrashTheTOMLParserIsASyntaxError() throws {
        let cases: [(String, Int, Int)] = [
            ("e=\"\"\ns=[\"\"]\n[\n", 3, 2),   // a table header without a name
            ("s=[0,}", 1, 6),                  // an array element missing before '}'
            ("s=1979-05-27T:", 1, 14),         // a date-time without a time
        ]
        for (toml, line, column) in cases {
            let e = try #require(F.error(toml))
            #expect(e.line == line && e.column == column, "\(toml.debugDescription): \(e)")
            #expect(e.message.hasPrefix("TOML syntax error: "))
        }
        // A NUL would cut the text short where TOMLKit hands it to toml++ as a C string.
        let nul = try #require(F.error(F.minimal + "\n# \u{0}\n"))
        #expect(nul.line == 14 && nul.column == 3)
        #expect(nul.message.contains("NUL"))
        // A \u0000 escape in a key: TOMLKit reads keys back as C strings, so this tilt key read
        // back as "a", which the tilt table then did not have, and a force unwrap trapped.
        let key = try #require(F.error(F.minimal + "\n[observational.tilt]\n\"a\\u0000x\" = 1\n"))
        #expect(key.line == 15 && key.column == 3)
        #expect(key.message.contains("\\u0000"))
    }

    @Test func worldBytesMustBeUTF8() throws {
        var bytes = Array(F.minimal.utf8)
        bytes.insert(0xE9, at: 10)   // name = "ti\xE9ny"
        do {
            _ = try World.parse(bytes: bytes, file: "w.toml")
            Issue.record("invalid UTF-8 was accepted")
        } catch {
            #expect(error.line == 1 && error.column == 11)
            #expect(error.message == "the world file is not valid UTF-8 text: invalid UTF-8 (bytes E9 6E 79 22)")
        }
        #expect(try World.parse(bytes: Array(F.minimal.utf8), file: "w.toml") == F.world(F.minimal))
    }

    /// A world file over `World.maxFileBytes` is refused from its size: the file here is
    /// sparse, so reading it would cost megabytes of zeros; the check must come first.
    @Test func oversizedWorldFileIsRefusedBeforeReading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("world-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("huge.toml").path
        try F.minimal.write(toFile: path, atomically: false, encoding: .utf8)
        let fd = open(path, O_WRONLY)
        defer { close(fd) }
        guard fd >= 0, ftruncate(fd, off_t(World.maxFileBytes + 1)) == 0 else { return }
        do {
            _ = try World.load(path: path)
            Issue.record("an oversized world file was read")
        } catch {
            #expect(error.file == path)
            #expect(error.message == "the world file is 4.1 MB, more than the limit of 4 MB")
            #expect(error.hint.contains("right file"))
        }
    }

    /// Large files cost time in proportion to their size. Three places were quadratic: the
    /// locator's columns on one long line (a theme with a 64 KB `series` line took 24 s), the
    /// check for a repeated attribute name, and the checks of `design.passages` and the tilt
    /// names against earlier entries. A regression makes this test take minutes, not fail.
    @Test func largeWorldsParseInLinearTime() throws {
        var long = "name = \"long\"\n[outcome]\nnoise_sd = 1.0\n[design]\npassages = [1]\n[[attribute]]\nname = \"x\"\n"
            + "effect = 1\npassages = ["
        for i in 0..<20_000 { long += "\"Passage \(i).\", " }
        let column = long.split(separator: "\n", omittingEmptySubsequences: false).last!.count + 1
        long += "7]\n[[attribute]]\nname = \"y\"\neffect = 1\npassages = [\"Why.\"]\n"
        let e = try #require(F.error(long))
        #expect(e.line == 9 && e.column == column)
        #expect(e.message.contains("passage 20001 of attribute \"x\" must be a string"))

        var many = "name = \"many\"\n[outcome]\nnoise_sd = 1.0\n[design]\npassages = ["
            + (1...3000).map(String.init).joined(separator: ", ") + "]\n[observational.tilt]\n"
            + (0..<3000).map { "a\($0) = 0.5\n" }.joined()
        for i in 0..<3000 { many += "[[attribute]]\nname = \"a\(i)\"\neffect = 1\npassages = [\"Passage \(i).\"]\n" }
        let w = try F.world(many)
        #expect(w.attributes.count == 3000 && w.passageCounts.count == 3000 && w.tilt.count == 3000)
    }

    @Test func errorDescriptionReadsLikeACompilerMessage() throws {
        let e = try #require(F.error(Self.edit("passages = [2]", "passages = [2]\nattention = 0"), file: "worlds/x.toml"))
        #expect(e.description.hasPrefix("worlds/x.toml:6:1: attention must be at least 1, found 0 (design.attention)."))
    }
}
