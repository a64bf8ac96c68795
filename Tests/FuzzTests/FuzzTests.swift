import CPOSupport
import Dashboard
import Foundation
import OutcomeData
import Testing
import TinyLM

/// Hostile input: every parser of a file a user can hand us gets 10,000 seeded
/// mutations of valid inputs. Each case must end in success or a clear error that names the
/// file; a crash kills the run (and `FuzzMonitor` prints the case to replay), a case over
/// `Fuzz.caseLimit` fails it. See `Fuzz` for `CPO_FUZZ_CASE` (replay one case) and
/// `CPO_FUZZ_CASES` (more cases).
@Suite("hostile input: seeded mutation fuzzing")
struct FuzzTests {
    @Test func csvDatasets() { Fuzz.run(DataFuzz.target(name: "csv", slot: 0, seeds: DataFuzz.csvSeeds)) }
    @Test func jsonlDatasets() { Fuzz.run(DataFuzz.target(name: "jsonl", slot: 1, seeds: DataFuzz.jsonlSeeds)) }
    @Test func worldFiles() { Fuzz.run(TOMLFuzz.world) }
    @Test func themeFiles() { Fuzz.run(TOMLFuzz.theme) }
    @Test func configFiles() { Fuzz.run(TOMLFuzz.config) }
    @Test func weightFiles() { Fuzz.run(WeightFuzz.target) }

    /// The mutator is deterministic per seed and actually changes its input.
    @Test func mutatorIsDeterministic() {
        let m = Mutator(dictionary: ["[[attribute]]", "nan"], seeds: [Array("a = 1\nb = 2\n".utf8)],
                        numbers: ["-1"])
        let seed = Array("name = \"x\"\n[design]\npassages = [2, 3]\n".utf8)
        var changed = 0
        for k in 0..<200 {
            var r1 = SeededRandom(seed: UInt64(k)), r2 = SeededRandom(seed: UInt64(k))
            let a = m.mutate(seed, rng: &r1), b = m.mutate(seed, rng: &r2)
            #expect(a == b)
            if a != seed { changed += 1 }
        }
        #expect(changed > 180)
        #expect(Fuzz.caseSeed("csv", 7) == Fuzz.caseSeed("csv", 7))
        #expect(Fuzz.caseSeed("csv", 7) != Fuzz.caseSeed("csv", 8))
    }
}

/// The repository root (for the shipped worlds and themes).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

func files(in folder: String, ext: String) -> [[UInt8]] {
    let dir = repositoryRoot.appendingPathComponent(folder)
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(ext) }.sorted()
    return names.compactMap { try? [UInt8](Data(contentsOf: dir.appendingPathComponent($0))) }
}

/// Hostile numbers, for the mutator's number replacement.
let hostileNumbers = ["0", "-0", "-1", "1", "255", "256", "65535", "2147483647", "2147483648", "4294967296",
                      "9223372036854775807", "-9223372036854775808", "99999999999999999999", "1e309",
                      "-1e309", "1e-400", "nan", "inf", "0.5", "1.0000000000000002", "0x10", "1_000"]

// MARK: - CSV and JSON Lines datasets

enum DataFuzz {
    struct Seed: Sendable {
        var bytes: [UInt8]
        var format: DatasetFormat
        var columns: DatasetColumns
    }

    static func seed(_ text: String, _ format: DatasetFormat = .csv, _ columns: DatasetColumns = DatasetColumns()) -> Seed {
        Seed(bytes: Array(text.utf8), format: format, columns: columns)
    }

    static let full = DatasetColumns(propensity: "propensity", trait: "trait", split: "split")

    static let csvSeeds: [Seed] = {
        var seeds = [
            seed("text,outcome\nhello world,1.5\n\"quoted, with a comma\",2\n\"two\nlines\",3\n\"say \"\"hi\"\"\",-4e2\n"),
            seed("\u{FEFF}text,outcome,propensity,trait,split\r\n\"She said \"\"hi\"\"\",0.5,0.25,1,train\r\n"
                 + "plain,1e3,0.5,-1,eval\r\nthird row,7,1,0,test\r\n\"multi\r\nline\",8,0.125,1,validation\r\n", .csv, full),
            seed("text,outcome,propensity\na,true,-0.5\nb,false,-2.25\nc,TRUE,-1\nd,0,-0.1\n", .csv,
                 DatasetColumns(propensity: "propensity", propensityScale: .logProbability)),
            seed("id,text,outcome,a1,a2,true_value\n1,first text,1,0,1,0.5\n2,second text,-1,1,0,0.25\n3,x,1,1,1,0.75\n",
                 .csv, DatasetColumns(attributes: ["a1", "a2"], trueValue: "true_value")),
            seed("text\toutcome\ttrait\nfirst\t1\t0.5\n\"tab\tinside\"\t2\t-0.5\nthird\t3\t\n", .tsv,
                 DatasetColumns(trait: "trait")),
            seed("text,outcome\ra,1\rb,2\r\rc,,\nd,nan\ne,1e999\n,5\nf,3\ng,4\n"),
            seed("résumé,outcome\ntext,1\n", .csv, DatasetColumns(text: "résumé")),
            seed("text,outcome,split\n\"\",1,train\n\"ünïcödé 😀\",2,dev\nx,3,TRAIN\n\"a\"\"b\",4,eval\n", .csv,
                 DatasetColumns(split: "split")),
        ]
        // A few real rows of a shipped dataset (world columns: trait, propensity, attributes).
        let sample = repositoryRoot.appendingPathComponent("sample-data/river-cleanup-observational.csv")
        if let data = try? Data(contentsOf: sample) {
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let head = lines.prefix(6).joined(separator: "\n") + "\n"
            seeds.append(seed(head, .csv, DatasetColumns(propensity: "propensity", trait: "trait",
                                                         attributes: ["urgency", "guilt"], trueValue: "true_value")))
        }
        return seeds
    }()

    static let jsonlSeeds: [Seed] = [
        seed("{\"text\": \"hello\", \"outcome\": 1.5}\n{\"text\":\"esc \\\"q\\\" \\u00e9 \\ud83d\\ude00 \\n\",\"outcome\":2}\n",
             .jsonl),
        seed("\u{FEFF}{\"text\":\"a\",\"outcome\":1,\"propensity\":0.5,\"trait\":\"1\",\"split\":\"train\"}\r\n\r\n"
             + "{\"text\":\"b\",\"outcome\":\"2.5\",\"propensity\":0.25,\"trait\":-1,\"split\":\"eval\",\"extra\":[1,{\"x\":null}]}\r\n"
             + "{\"text\":\"c\",\"outcome\":-3e2,\"propensity\":1,\"trait\":0,\"split\":\"dev\"}\n", .jsonl, full),
        seed("{\"text\":\"yes\",\"outcome\":true}\n{\"text\":\"no\",\"outcome\":false}\n{\"text\":\"n\",\"outcome\":null}\n"
             + "[1,2]\n\"just a string\"\n{\"text\":\"x\",\"outcome\":1}  \n", .jsonl),
        seed("{\"t\":\"a\",\"y\":1,\"a1\":1,\"tv\":0.5}\n{\"y\":0,\"t\":\"b\",\"a1\":0,\"tv\":-0.5,\"t\":\"dup\"}\n"
             + "{\"t\":\"c\",\"y\":1,\"a1\":true,\"tv\":1E+2}\n", .jsonl,
             DatasetColumns(text: "t", outcome: "y", attributes: ["a1"], trueValue: "tv")),
    ]

    static let csvDictionary = ["\"", "\"\"", ",", "\t", "\r\n", "\n", "\r", "NaN", "nan", "1e999", "-1e999", "true",
                                "false", "\u{FEFF}", "text", "outcome", "propensity", "trait", "split", "train",
                                "eval", "\"a,b\"", "0", "-1", "1.5", ",,,,", "\"\n\"", " ", "0.0", "1e-320"]
    static let jsonlDictionary = ["{", "}", "[", "]", ":", ",", "\"", "null", "true", "false", "\"\\u0000\"",
                                  "\"\\ud800\"", "\\u", "\\", "1e400", "-0", "0.5e", "\"text\"", "\"outcome\"",
                                  "\"propensity\":", "\"split\":\"eval\"", "\r\n", "\n", "[[[[", "{\"a\":",
                                  "\"\\ud83d\\ude00\"", "1E+2", "01", "-", "\t"]

    /// A few variations of the load options, picked per case.
    static func options(for s: Seed, _ rng: inout SeededRandom) -> LoadOptions {
        var o = LoadOptions(columns: s.columns)
        o.maxBadFraction = [0.01, 0, 0.25, 1][rng.int(below: 4)]
        o.outcomeKind = [nil, nil, .binary, .continuous][rng.int(below: 4)]
        o.higherIsBetter = rng.int(below: 2) == 0
        return o
    }

    static func target(name: String, slot: Int, seeds: [Seed]) -> FuzzTarget {
        let dictionary = name == "jsonl" ? jsonlDictionary : csvDictionary
        let mutator = Mutator(dictionary: dictionary, seeds: seeds.map(\.bytes), numbers: hostileNumbers)
        return FuzzTarget(
            name: name, slot: slot,
            input: { seed in
                var rng = SeededRandom(seed: seed)
                let s = seeds[rng.int(below: seeds.count)]
                return mutator.mutate(s.bytes, rng: &rng)
            },
            run: { bytes, seed in
                var rng = SeededRandom(seed: seed)
                let s = seeds[rng.int(below: seeds.count)]
                var orng = SeededRandom(seed: SeededRandom.derivedSeed(seed, "options"))
                let o = options(for: s, &orng)
                let file = "fuzz-case.\(s.format.rawValue)"
                do throws(InputError) {
                    let d = try DatasetLoader.load(bytes: bytes, file: file, format: s.format, options: o)
                    return .accepted(problem: problem(d, o))
                } catch {
                    return .refused(description: error.description,
                                    problem: Fuzz.positionProblem(description: error.description, file: file,
                                                                  line: error.line, column: error.column, input: bytes))
                }
            })
    }

    /// What a loaded dataset must satisfy.
    static func problem(_ d: OutcomeDataset, _ o: LoadOptions) -> String? {
        if d.rows.isEmpty { return "no rows" }
        if d.badRowCount > d.totalRecords || d.rows.count + d.badRowCount != d.totalRecords {
            return "counts do not add up: \(d.rows.count) rows + \(d.badRowCount) bad != \(d.totalRecords)"
        }
        if Double(d.badRowCount) > o.maxBadFraction * Double(d.totalRecords) + 1e-9 {
            return "\(d.badRowCount) bad rows of \(d.totalRecords) passed the limit \(o.maxBadFraction)"
        }
        for r in d.rows {
            if !r.outcome.isFinite { return "line \(r.line): outcome \(r.outcome)" }
            if d.outcomeKind == .binary && r.outcome != 0 && r.outcome != 1 { return "line \(r.line): binary outcome \(r.outcome)" }
            if let p = r.logPropensity, !(p.isFinite && p <= 0) { return "line \(r.line): log propensity \(p)" }
            if (o.columns.propensity != nil) != (r.logPropensity != nil) { return "line \(r.line): propensity presence" }
            if let t = r.trait, !t.isFinite { return "line \(r.line): trait \(t)" }
            if let t = r.trueValue, !t.isFinite { return "line \(r.line): true value \(t)" }
            if r.attributes.count != o.columns.attributes.count || r.attributes.contains(where: { !$0.isFinite }) {
                return "line \(r.line): attributes \(r.attributes)"
            }
            if (o.columns.split != nil) != (r.split != nil) { return "line \(r.line): split presence" }
        }
        if d.summary.isEmpty { return "empty summary" }
        return nil
    }
}

// MARK: - World and theme TOML files

enum TOMLFuzz {
    static let smallWorld = """
        name = "tiny-world"
        description = 'literal "quotes" and \\ backslash'
        outcome = { kind = "binary", baseline = -0.5 }
        design.passages = [1, 2]
        design.attention = 2
        readers = { trait = "fan", prevalence = 0.25, effect = 1_000 }

        [[attribute]]
        name = "alpha"
        effect = +1.5e0
        passages = ["First one.", '''Second
          one.''', "Thïrd ☃ one."]

        [[attribute]]
        name = "beta"
        effect = -2
        passages = [ "Another sentence." , ]  # trailing comma

        [observational.tilt]
        alpha = 0.5
        "beta" = -1

        """

    static let smallTheme = """
        name = "fuzz"
        series = [1, "default", 255]
        [roles]
        text = { fg = "default", bg = 0, bold = true }
        dim = {}
        border.fg = 240
        [roles.selected]
        reverse = true
        underline = false

        """

    static let tomlDictionary = ["[[attribute]]", "[design]", "[outcome]", "[readers]", "[observational.tilt]",
                                 "[observational]", "passages = [", "effect = ", "name = ", "kind = \"binary\"",
                                 "noise_sd = ", "attention = ", "tilt = {", "nan", "inf", "-inf", "+nan", "1e309",
                                 "\"\"\"", "'''", "'", "\"", "=", "[", "]", "[[", "]]", "{", "}", ",", ".", "#",
                                 "\n", "\r\n", "\r", "\\", "\\u0000", "\"\\u0000\"", "\\U0010FFFF", "\\uD800",
                                 "1979-05-27T07:32:00Z", "07:32:00", "true", "0x7fffffffffffffff", "0b102",
                                 "9223372036854775808", "a.b.c", "\"a.b\"", "[a.'b']", "\u{FEFF}", "\t", "= [[[[[[",
                                 "{a={b={c={}}}}", "\"x\" = 1", "alpha = 1", "urgency = 2", "passages.x = 1",
                                 "\"alpha\\u0000\" = 1", "1979-05-27 1", "1979-05-27T"]
    static let themeDictionary = tomlDictionary + ["[roles]", "fg = ", "bg = ", "\"default\"", "256", "-1",
                                                   "bold = ", "dim = ", "reverse = true", "series = [",
                                                   "text = {", "focused_border = { fg = 1 }", "underline = 1"]

    static let smallConfig = """
        theme = "light"    # a comment
        ascii = true
        mouse = false
        world = 'seawall-survey'
        fps = 10
        [keys]
        stepAll = ["N", "F5"]
        exportScreen = "Ctrl-E"
        selectNext = ["down", "J", "↓"]
        quit = ["q", "Esc", "\\"]

        """
    static let configDictionary = tomlDictionary + ["[keys]", "theme = ", "ascii = ", "mouse = ", "world = ", "fps = ",
                                                    "\"dark\"", "\"light\"", "\"mine.toml\"", "\"/dev/null\"", "\"space\"",
                                                    "\"Tab\"", "\"Shift-Tab\"", "\"Ctrl-C\"", "\"Ctrl-\"", "\"F13\"", "\"F0\"",
                                                    "\"↑\"", "\"PgUp\"", "\"n\"", "\"s\"", "\"q\"", "quit = []", "stepAll = [",
                                                    "help = \"?\"", "zoom = [\"z\", \"z\"]", "keys.quit = 1", "16", "0"]
    static let configSeeds: [[UInt8]] = [Array(smallConfig.utf8), Array(DashboardConfig().tomlText().utf8)]

    static let worldSeeds: [[UInt8]] = files(in: "sample-data/worlds", ext: ".toml") + [Array(smallWorld.utf8)]
    static let themeSeeds: [[UInt8]] = files(in: "themes", ext: ".toml") + [Array(smallTheme.utf8)]

    /// Case inputs: a seed file picked and mutated, both by the case's seed.
    static func mutations(of seeds: [[UInt8]], by mutator: Mutator) -> @Sendable (UInt64) -> [UInt8] {
        { seed in
            var rng = SeededRandom(seed: seed)
            return mutator.mutate(seeds[rng.int(below: seeds.count)], rng: &rng)
        }
    }

    static let world: FuzzTarget = {
        let seeds = worldSeeds
        let mutator = Mutator(dictionary: tomlDictionary, seeds: seeds, numbers: hostileNumbers)
        let file = "fuzz-case.toml"
        return FuzzTarget(
            name: "world", slot: 2,
            input: mutations(of: seeds, by: mutator),
            run: { bytes, _ in
                do throws(InputError) {
                    let w = try World.parse(bytes: bytes, file: file)
                    return .accepted(problem: problem(w))
                } catch {
                    return .refused(description: error.description,
                                    problem: Fuzz.positionProblem(description: error.description, file: file,
                                                                  line: error.line, column: error.column, input: bytes))
                }
            })
    }()

    static func problem(_ w: World) -> String? {
        if w.attributes.count < 2 { return "\(w.attributes.count) attributes" }
        if w.name.isEmpty { return "an empty name" }
        if !(w.baseline.isFinite && w.noiseSD.isFinite && w.noiseSD >= 0 && w.invalidEffect.isFinite) {
            return "baseline \(w.baseline), noise \(w.noiseSD), invalid effect \(w.invalidEffect)"
        }
        if w.passageCounts.isEmpty || w.passageCounts.contains(where: { $0 < 1 || $0 > w.attributes.count }) {
            return "passage counts \(w.passageCounts)"
        }
        if w.attention < 1 { return "attention \(w.attention)" }
        for a in w.attributes where !a.effect.isFinite || a.passages.isEmpty || a.name.isEmpty {
            return "attribute \(a.name): effect \(a.effect), \(a.passages.count) passages"
        }
        if let r = w.readers, !(r.prevalence >= 0 && r.prevalence <= 1 && r.effect.isFinite) {
            return "readers \(r)"
        }
        if w.tilt.values.contains(where: { !$0.isFinite }) { return "tilt \(w.tilt)" }
        return nil
    }

    static let theme: FuzzTarget = {
        let seeds = themeSeeds
        let mutator = Mutator(dictionary: themeDictionary, seeds: seeds, numbers: hostileNumbers)
        let file = "fuzz-case.toml"
        return FuzzTarget(
            name: "theme", slot: 3,
            input: mutations(of: seeds, by: mutator),
            run: { bytes, _ in
                do throws(ThemeError) {
                    let t = try Theme.parse(bytes: bytes, file: file)
                    if t.name.isEmpty { return .accepted(problem: "an empty name") }
                    if t.series.isEmpty { return .accepted(problem: "no series colours") }
                    _ = t.degraded(toColors: 8)
                    _ = t.degraded(toColors: 2)
                    return .accepted(problem: nil)
                } catch {
                    return .refused(description: error.description,
                                    problem: Fuzz.positionProblem(description: error.description, file: file,
                                                                  line: error.line, column: nil, input: bytes))
                }
            })
    }()
}

extension TOMLFuzz {
    /// Config files: parsed and checked (the theme and world files they name are not read).
    static let config: FuzzTarget = {
        let seeds = configSeeds
        let mutator = Mutator(dictionary: configDictionary, seeds: seeds, numbers: hostileNumbers)
        let file = "fuzz-case.toml"
        return FuzzTarget(
            name: "config", slot: 5,
            input: mutations(of: seeds, by: mutator),
            run: { bytes, _ in
                do throws(InputError) {
                    let c = try DashboardConfig.parse(bytes: bytes, file: file)
                    return .accepted(problem: problem(c))
                } catch {
                    return .refused(description: error.description,
                                    problem: Fuzz.positionProblem(description: error.description, file: file,
                                                                  line: error.line, column: error.column, input: bytes))
                }
            })
    }()

    /// What an accepted config must be: a frame rate in range, a keymap with no key bound
    /// twice and quit bound, and a `config show` text that loads back the same.
    static func problem(_ c: DashboardConfig) -> String? {
        if !DashboardConfig.fpsRange.contains(c.fps) { return "fps \(c.fps)" }
        if c.theme.isEmpty || c.world.isEmpty { return "an empty theme or world" }
        if !c.keymap.duplicateKeys.isEmpty { return "keys bound twice: \(c.keymap.duplicateKeys.map(\.name))" }
        if c.keymap.binding(for: .quit)?.keys.isEmpty != false { return "quit unbound" }
        do {
            let back = try DashboardConfig.parse(c.tomlText(), file: "shown.toml")
            if back.keymap.bindings.map(\.keys) != c.keymap.bindings.map(\.keys) || back.fps != c.fps || back.ascii != c.ascii
                || back.mouse != c.mouse || back.theme != c.theme || back.world != c.world {
                return "config show does not load back the same"
            }
        } catch {
            return "config show does not load back: \(error)"
        }
        return nil
    }
}

// MARK: - Weight files

enum WeightFuzz {
    /// Valid weight files of two tiny models (tied and untied head, with and without metadata).
    static let seeds: [[UInt8]] = {
        do {
            let tok = try BPETokenizer.train(corpus: ["abc abd abe", "hello world", "abc hello"], vocabSize: 270)
            let tied = try Transformer(config: ModelConfig(vocabSize: 270, contextLength: 4, dModel: 4, heads: 1,
                                                           layers: 1, mlpRatio: 1, tiedHead: true), seed: 1)
            let untied = try Transformer(config: ModelConfig(vocabSize: 272, contextLength: 3, dModel: 4, heads: 2,
                                                             layers: 1, mlpRatio: 2, tiedHead: false), seed: 2)
            return [WeightFile.encode(model: tied, tokenizer: tok),
                    WeightFile.encode(model: untied, tokenizer: tok, metadata: ["method": "FT", "epoch": "3"])]
        } catch {
            Issue.record("cannot build the weight-file seeds: \(error)")
            return []
        }
    }()

    /// A weight file split into its parts, to mutate one part and put it back together with
    /// correct lengths and checksum (so that the mutation reaches the decoder past the CRC).
    struct Parts {
        var head: [UInt8]        // magic, version, section count
        var sections: [(tag: [UInt8], body: [UInt8])]

        init(_ b: [UInt8]) {
            head = Array(b[0..<16])
            sections = []
            var at = 16
            while at + 12 <= b.count - 4 {
                let tag = Array(b[at..<(at + 4)])
                var len = 0
                for k in (0..<8).reversed() { len = len << 8 | Int(b[at + 4 + k]) }
                sections.append((tag, Array(b[(at + 12)..<(at + 12 + len)])))
                at += 12 + len
            }
        }

        var bytes: [UInt8] {
            var out = head
            for s in sections {
                out += s.tag
                withUnsafeBytes(of: UInt64(s.body.count).littleEndian) { out.append(contentsOf: $0) }
                out += s.body
            }
            withUnsafeBytes(of: CRC32.checksum(out).littleEndian) { out.append(contentsOf: $0) }
            return out
        }
    }

    static let jsonDictionary = ["{", "}", "[", "]", ":", ",", "\"", "null", "true", "false", "\"vocabSize\":",
                                 "\"contextLength\":", "\"dModel\":", "\"heads\":", "\"layers\":", "\"mlpRatio\":",
                                 "\"tiedHead\":", "\"method\":", "\"\\u0000\"", "1e400", "-1", "\"x\""]
    static let binaryDictionary = ["TLBP", "CPOTLM\r\n", "CONF", "TOKN", "PARM", "META", "\u{0}\u{0}\u{0}\u{0}",
                                   "\u{1}\u{0}", "\u{3}\u{1}\u{0}\u{0}", "\u{0}\u{1}\u{0}\u{0}", "\u{7F}\u{7F}\u{7F}\u{7F}"]
        + [String(decoding: [0xFF, 0xFF, 0xFF, 0xFF], as: UTF8.self)]

    static let target: FuzzTarget = {
        let seeds = WeightFuzz.seeds
        let raw = Mutator(dictionary: binaryDictionary, seeds: seeds, numbers: hostileNumbers, maxLength: 1 << 17)
        let json = Mutator(dictionary: jsonDictionary, seeds: seeds.map { Parts($0).sections[0].body },
                           numbers: hostileNumbers)
        let binary = Mutator(dictionary: binaryDictionary, seeds: seeds.map { Parts($0).sections[1].body },
                             numbers: hostileNumbers)
        let file = "fuzz-case.cpow"
        return FuzzTarget(
            name: "weights", slot: 4,
            input: { seed in
                var rng = SeededRandom(seed: seed)
                let original = seeds[rng.int(below: seeds.count)]
                switch rng.int(below: 10) {
                case 0, 1, 2:   // bytes anywhere, checksum left as it is
                    return raw.mutate(original, rng: &rng)
                case 3, 4:      // bytes anywhere, then a checksum that matches
                    var b = raw.mutate(original, rng: &rng)
                    if b.count >= 4 {
                        b.removeLast(4)
                        withUnsafeBytes(of: CRC32.checksum(b).littleEndian) { b.append(contentsOf: $0) }
                    }
                    return b
                default:        // one section (or the section list) changed, file rebuilt consistently
                    var p = Parts(original)
                    let i = rng.int(below: p.sections.count)
                    switch rng.int(below: 12) {
                    case 0: p.sections.remove(at: i)
                    case 1: p.sections.append(p.sections[i])
                    case 2: p.sections[i].tag = raw.mutate(p.sections[i].tag, rng: &rng)
                    case 3: p.head = raw.mutate(p.head, rng: &rng)
                    default:
                        let tag = String(decoding: p.sections[i].tag, as: UTF8.self)
                        let m = tag == "CONF" || tag == "META" ? json : tag == "TOKN" ? binary : raw
                        p.sections[i].body = m.mutate(p.sections[i].body, rng: &rng)
                    }
                    return p.bytes
                }
            },
            run: { bytes, _ in
                do throws(WeightFileError) {
                    let w = try WeightFile.decode(bytes, path: file)
                    if w.parameters.count != ParameterLayout(w.config).count {
                        return .accepted(problem: "\(w.parameters.count) parameters for a layout of \(ParameterLayout(w.config).count)")
                    }
                    if w.tokenizer.vocabSize > w.config.vocabSize { return .accepted(problem: "tokenizer larger than the model") }
                    return .accepted(problem: nil)
                } catch {
                    let d = error.description
                    return .refused(description: d, problem: d.contains(file) ? nil : "the error does not name the file")
                }
            })
    }()
}
