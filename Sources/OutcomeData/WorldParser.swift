import CPOSupport
import Foundation
import TOMLKit
import TOMLSupport

/// World files are TOML files: `World.load(path:)`, `World.parse(bytes:file:)` and
/// `World.parse(_:file:)` read them through `TOMLFile`, the loading path they share with theme
/// files, and report every problem as an ``InputError`` at its line and column.
extension World: TOMLFileFormat {
    /// World files larger than this are refused before they are read. The shipped ones are a
    /// few KB and a world of 20,000 attributes is 1.5 MB; parsing costs memory many times the
    /// file's size (a 16 MB file of one long list peaks near 2.3 GB in toml++'s nodes and the
    /// position index), so the limit stays well below that.
    public static let maxFileBytes = 4 << 20

    static let syntaxHint = "Fix the TOML syntax at this position (the format is described in Sources/OutcomeData/OutcomeData.docc/WorldFileFormat.md)."

    /// A problem reading the file or parsing it as TOML, in the words of world files.
    public static func failure(_ e: TOMLFileError) -> InputError {
        InputError(e, as: TOMLFileWording(
            noun: "world file",
            notFound: "Check the path (relative paths start from \(FileManager.default.currentDirectoryPath)).",
            isDirectory: "Pass the .toml world file itself, or the name of a shipped world.",
            tooLarge: "World files are small text files (the shipped ones are a few KB): check that this is the right file.",
            unreadable: "Check that the path exists and is a readable file.",
            nul: "A world file is UTF-8 text: check that this is the right file (not a binary or UTF-16 file).",
            tooDeep: "A world file needs three levels at most ([observational.tilt]); check that this is the right file.",
            syntax: syntaxHint, unparsable: "Check its syntax."))
    }

    /// Validates a parsed world file (<doc:WorldFileFormat>).
    ///
    /// Schema (every other key is an error naming the key and the allowed ones):
    /// - top level: `name` (required; `[a-z0-9-]+`), `description` (string, default "");
    /// - `[outcome]` (optional table): `kind` ("continuous" default, or "binary"), `baseline`
    ///   (number, default 0: the mean response, or the log-odds for binary), `noise_sd`
    ///   (number >= 0; **required for continuous worlds**, accepted and ignored for binary);
    /// - `[design]` (required): `passages` (required: a non-empty list of distinct integers,
    ///   each between 1 and the number of attributes), `attention` (integer >= 1, default 3),
    ///   `invalid_effect` (number, default 0);
    /// - `[readers]` (optional; absent = no trait): `trait` (non-empty string), `prevalence`
    ///   (number in [0, 1]) and `effect` (number), all three required;
    /// - `[[attribute]]` (required, two or more): `name` (required, non-empty, unique),
    ///   `effect` (required number), `passages` (required non-empty list of strings, each with
    ///   at least one word, each unique across the whole world after normalization; stored
    ///   trimmed of surrounding whitespace);
    /// - `[observational]` (optional): `tilt` (table of attribute name to number; unnamed
    ///   attributes: 0).
    ///
    /// Numbers may be written as integers or floats; NaN and infinities are refused.
    /// Errors carry the line (and column) of the offending key, list element or table header;
    /// a required key missing from a table points at the table's header.
    public init(document: TOMLDocument) throws(InputError) {
        self = try WorldFileReader(document).read()
    }
}

/// Validates a parsed TOML table against the world schema, locating each problem in the raw
/// text. `read` checks the parts in a fixed order (name, outcome, attributes, design, readers,
/// observational), so a file with several problems always reports the same first one.
struct WorldFileReader {
    let document: TOMLDocument

    init(_ document: TOMLDocument) { self.document = document }

    static let topKeys = ["name", "description", "outcome", "design", "readers", "attribute", "observational"]
    static let outcomeKeys = ["kind", "baseline", "noise_sd"]
    static let designKeys = ["passages", "attention", "invalid_effect"]
    static let readersKeys = ["trait", "prevalence", "effect"]
    static let attributeKeys = ["name", "effect", "passages"]
    static let observationalKeys = ["tilt"]
    /// Passages a reader reads when `design.attention` is not given.
    static let defaultAttention = 3

    /// `[outcome]`, with its defaults.
    struct Outcome {
        var kind = OutcomeKind.continuous
        var baseline = 0.0
        var noiseSD = 0.0
    }

    /// `[design]`.
    struct Design {
        var passageCounts: [Int]
        var attention: Int
        var invalidEffect: Double
    }

    func read() throws(InputError) -> World {
        let root = document.root
        try checkKeys(root, allowed: Self.topKeys, path: "", what: "at the top level")
        let name = try readName(root)
        var description = ""
        if let v = root["description"] { description = try string(v, path: "description", field: "description") }
        let outcome = try readOutcome(root)
        let attributes = try readAttributes(root)
        let design = try readDesign(root, attributeCount: attributes.count)
        let readers = try readReaders(root)
        let observational = try table(root, "observational", path: "observational")
        let tilt = try readTilt(observational, attributes: attributes)
        return World(name: name, description: description, outcomeKind: outcome.kind, baseline: outcome.baseline,
                     noiseSD: outcome.noiseSD, passageCounts: design.passageCounts, attention: design.attention,
                     invalidEffect: design.invalidEffect, readers: readers, attributes: attributes, tilt: tilt,
                     hasObservationalDesign: observational != nil)
    }

    // MARK: The parts of a world file

    /// `name`: required, lower-case letters, digits and hyphens.
    private func readName(_ root: TOMLTable) throws(InputError) -> String {
        guard let nameValue = root["name"] else {
            throw error(at: nil, field: "name", "missing the world's name",
                        "Add a line like `name = \"my-world\"` at the top of the file.")
        }
        let name = try string(nameValue, path: "name", field: "name")
        let nameOK = !name.isEmpty && name.unicodeScalars.allSatisfy {
            ($0.value >= 0x61 && $0.value <= 0x7A) || ($0.value >= 0x30 && $0.value <= 0x39) || $0 == "-"
        }
        guard nameOK else {
            throw error(at: "name", field: "name", "the name \"\(name)\" is not lower-case letters, digits and hyphens",
                        "Use only a-z, 0-9 and '-', e.g. `name = \"library-appeal\"`.")
        }
        return name
    }

    /// `[outcome]`: optional, but a continuous world needs its `noise_sd`.
    private func readOutcome(_ root: TOMLTable) throws(InputError) -> Outcome {
        var out = Outcome()
        let outcome = try table(root, "outcome", path: "outcome")
        if let outcome {
            try checkKeys(outcome, allowed: Self.outcomeKeys, path: "outcome", what: "in [outcome]")
            if let v = outcome["kind"] {
                let s = try string(v, path: "outcome.kind", field: "outcome.kind")
                guard let k = OutcomeKind(rawValue: s) else {
                    throw error(at: "outcome.kind", field: "outcome.kind", "unknown outcome kind \"\(s)\"",
                                "Use \"continuous\" or \"binary\".")
                }
                out.kind = k
            }
            if let v = outcome["baseline"] { out.baseline = try number(v, path: "outcome.baseline", field: "outcome.baseline") }
        }
        if let v = outcome?["noise_sd"] {
            out.noiseSD = try number(v, path: "outcome.noise_sd", field: "outcome.noise_sd")
            guard out.noiseSD >= 0 else {
                throw error(at: "outcome.noise_sd", field: "outcome.noise_sd",
                            "noise_sd must be zero or positive, found \(out.noiseSD)",
                            "Set it to the standard deviation of readers' responses, e.g. `noise_sd = 10.0`.")
            }
        } else if out.kind == .continuous {
            throw error(at: outcome == nil ? nil : "outcome", field: "outcome.noise_sd",
                        "a continuous world needs noise_sd",
                        "Add `noise_sd = ...` (reader-level standard deviation, 0 for none) under [outcome].")
        }
        return out
    }

    /// `[design]`: required; passage counts checked against the number of attributes.
    private func readDesign(_ root: TOMLTable, attributeCount: Int) throws(InputError) -> Design {
        guard let design = try table(root, "design", path: "design") else {
            throw error(at: nil, field: "design", "missing the [design] table",
                        "Add a [design] table with `passages = [2, 3]` (passages per text).")
        }
        try checkKeys(design, allowed: Self.designKeys, path: "design", what: "in [design]")
        let passageCounts = try readPassageCounts(design, attributeCount: attributeCount)
        var attention = Self.defaultAttention
        if let v = design["attention"] {
            guard let a = v.int else {
                throw error(at: "design.attention", field: "design.attention",
                            "attention must be an integer, found \(v.type)", "Write e.g. `attention = 3`.")
            }
            guard a >= 1 else {
                throw error(at: "design.attention", field: "design.attention",
                            "attention must be at least 1, found \(a)",
                            "Set how many passages a reader reads, e.g. `attention = 3`.")
            }
            attention = a
        }
        var invalidEffect = 0.0
        if let v = design["invalid_effect"] {
            invalidEffect = try number(v, path: "design.invalid_effect", field: "design.invalid_effect")
        }
        return Design(passageCounts: passageCounts, attention: attention, invalidEffect: invalidEffect)
    }

    /// `design.passages`: distinct integers between 1 and the number of attributes.
    private func readPassageCounts(_ design: TOMLTable, attributeCount: Int) throws(InputError) -> [Int] {
        let counts = try nonEmptyList(
            design, "passages", at: "design", field: "design.passages",
            missing: ("[design] has no passages list",
                      "Add `passages = [2, 3]`: the numbers of passages per text, drawn uniformly."),
            notList: ("design.passages must be a list of integers", "Write it as a list, e.g. `passages = [2, 3]`."),
            empty: ("design.passages is empty", "List at least one number of passages per text, e.g. `passages = [2, 3]`."))
        var passageCounts: [Int] = []
        var countsSeen = Set<Int>()   // a Set: a long hostile list must not cost O(n²)
        for j in 0..<counts.count {
            let path = "design.passages[\(j)]"
            guard let k = counts[j].int else {
                throw error(at: path, field: "design.passages",
                            "design.passages must hold integers, found \(counts[j].type)",
                            "Write whole numbers, e.g. `passages = [2, 3]`.")
            }
            guard k >= 1 else {
                throw error(at: path, field: "design.passages", "a text needs at least 1 passage, found \(k)",
                            "Use counts of 1 or more.")
            }
            guard countsSeen.insert(k).inserted else {
                throw error(at: path, field: "design.passages", "design.passages lists \(k) twice",
                            "List each count once; counts are drawn uniformly from the list.")
            }
            guard k <= attributeCount else {
                throw error(at: path, field: "design.passages",
                            "a text of \(k) passages needs \(k) distinct attributes, but the world has \(attributeCount)",
                            "Lower the count to at most \(attributeCount) or add attributes.")
            }
            passageCounts.append(k)
        }
        return passageCounts
    }

    /// `[readers]`: optional; when present, all three keys are required.
    private func readReaders(_ root: TOMLTable) throws(InputError) -> World.Readers? {
        guard let r = try table(root, "readers", path: "readers") else { return nil }
        try checkKeys(r, allowed: Self.readersKeys, path: "readers", what: "in [readers]")
        let trait = try nonEmptyName(
            r, "trait", at: "readers", field: "readers.trait",
            missing: ("[readers] has no trait name",
                      "Add e.g. `trait = \"regular-patron\"`, or remove [readers] for a world without a trait."),
            empty: ("the trait name is empty", "Name the trait, e.g. `trait = \"regular-patron\"`."))
        let prevalence = try requiredNumber(r, "prevalence", at: "readers", field: "readers.prevalence",
                                            missing: ("[readers] has no prevalence",
                                                      "Add `prevalence = 0.5`: the share of readers with C = +1."))
        guard prevalence >= 0 && prevalence <= 1 else {
            throw error(at: "readers.prevalence", field: "readers.prevalence",
                        "prevalence must lie in [0, 1], found \(prevalence)",
                        "It is P(C = +1), a probability, e.g. `prevalence = 0.5`.")
        }
        let effect = try requiredNumber(r, "effect", at: "readers", field: "readers.effect",
                                        missing: ("[readers] has no effect",
                                                  "Add `effect = ...`: a reader's response shifts by effect * C."))
        return World.Readers(trait: trait, prevalence: prevalence, effect: effect)
    }

    /// `[observational]` (already read as a table, or nil): its `tilt` names attributes.
    private func readTilt(_ observational: TOMLTable?, attributes: [World.Attribute]) throws(InputError) -> [String: Double] {
        guard let observational else { return [:] }
        try checkKeys(observational, allowed: Self.observationalKeys, path: "observational", what: "in [observational]")
        guard let t = try table(observational, "tilt", path: "observational.tilt") else { return [:] }
        var tilt: [String: Double] = [:]
        let names = attributes.map(\.name)
        let nameSet = Set(names)
        for key in document.locator.sortedBySource(t.keys, under: "observational.tilt") {
            let path = "observational.tilt.\(key)"
            guard nameSet.contains(key) else {
                throw error(at: path, field: "observational.tilt",
                            "the tilt names \"\(key)\", which is not an attribute",
                            "Use one of the attribute names: \(names.joined(separator: ", ")).")
            }
            guard let value = t[key] else {
                throw error(at: path, field: path, "the tilt \"\(key)\" cannot be read back",
                            "Write the attribute name as a plain key, e.g. `\(key) = 1.0`.")
            }
            tilt[key] = try number(value, path: path, field: path)
        }
        return tilt
    }

    /// `[[attribute]]`: two or more, names unique, passages unique across the world.
    private func readAttributes(_ root: TOMLTable) throws(InputError) -> [World.Attribute] {
        guard let value = root["attribute"] else {
            throw error(at: nil, field: "attribute", "the world has no attributes",
                        "Add two or more [[attribute]] tables, each with name, effect and passages.")
        }
        guard let list = value.array else {
            throw error(at: "attribute", field: "attribute", "attribute must be a list of tables, found \(value.type)",
                        "Write each attribute under its own [[attribute]] header (double brackets).")
        }
        var attributes: [World.Attribute] = []
        // Normalized passage -> (attribute index, passage index), to catch duplicates.
        var seen: [String: (Int, Int)] = [:]
        // Name -> attribute index (a dictionary: a file with many attributes must not cost O(n²)).
        var indexOfName: [String: Int] = [:]
        for i in 0..<list.count {
            let at = "attribute[\(i)]"
            guard let t = list[i].table else {
                throw error(at: at, field: "attribute", "attribute \(i + 1) is not a table",
                            "Write each attribute under its own [[attribute]] header.")
            }
            try checkKeys(t, allowed: Self.attributeKeys, path: at, what: "in attribute \(i + 1)")
            let name = try nonEmptyName(
                t, "name", at: at, field: "attribute.name",
                missing: ("attribute \(i + 1) has no name", "Add e.g. `name = \"urgency\"` under its [[attribute]] header."),
                empty: ("attribute \(i + 1) has an empty name", "Give it a short name, e.g. `name = \"urgency\"`."))
            if let other = indexOfName[name] {
                throw error(at: "\(at).name", field: "attribute.name",
                            "attribute \(i + 1) is named \"\(name)\" like attribute \(other + 1)\(lineNote("attribute[\(other)].name"))",
                            "Give every attribute a different name.")
            }
            let label = "attribute \"\(name)\""
            let effect = try requiredNumber(t, "effect", at: at, field: "attribute.effect",
                                            missing: ("\(label) has no effect",
                                                      "Add `effect = ...`: the true causal effect of including it."))
            let passages = try readPassages(t, at: at, index: i, label: label, seen: &seen, attributes: attributes)
            indexOfName[name] = attributes.count
            attributes.append(World.Attribute(name: name, effect: effect, passages: passages))
        }
        guard attributes.count >= 2 else {
            throw error(at: attributes.isEmpty ? "attribute" : "attribute[0]", field: "attribute",
                        "a world needs at least two attributes, found \(attributes.count)",
                        "Add another [[attribute]] table with name, effect and passages.")
        }
        return attributes
    }

    /// The passage pool of attribute `index` (at path `at`): a non-empty list of strings with
    /// words, none a duplicate (after normalization) of a passage in `seen`, which it extends.
    private func readPassages(_ t: TOMLTable, at: String, index i: Int, label: String,
                              seen: inout [String: (Int, Int)], attributes: [World.Attribute]) throws(InputError) -> [String] {
        let pool = try nonEmptyList(
            t, "passages", at: at, field: "attribute.passages",
            missing: ("\(label) has no passages", "Add `passages = [\"...\", ...]`: one or more sentences expressing it."),
            notList: ("the passages of \(label) must be a list of strings",
                      "Write `passages = [\"First sentence.\", \"Second sentence.\"]`."),
            empty: ("\(label) has an empty pool of passages", "Give it at least one passage, or remove the attribute."))
        var passages: [String] = []
        for j in 0..<pool.count {
            let path = "\(at).passages[\(j)]"
            guard let raw = pool[j].string else {
                throw error(at: path, field: "attribute.passages",
                            "passage \(j + 1) of \(label) must be a string, found \(pool[j].type)",
                            "Quote the passage: \"...\".")
            }
            let passage = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            let normalized = World.normalize(passage)
            guard !normalized.isEmpty else {
                throw error(at: path, field: "attribute.passages",
                            "passage \(j + 1) of \(label) has no words",
                            "Write a sentence with at least one letter or digit, or remove it.")
            }
            if let (oa, op) = seen[normalized] {
                let where1 = oa == i ? "passage \(op + 1) of the same attribute"
                    : "passage \(op + 1) of attribute \"\(attributes[oa].name)\""
                throw error(at: path, field: "attribute.passages",
                            "passage \(j + 1) of \(label) duplicates \(where1)\(lineNote("attribute[\(oa)].passages[\(op)]")) (\"\(normalized)\" after normalization)",
                            "Every passage must be unique across the world (case, punctuation and spacing are ignored): reword or remove one of them.")
            }
            seen[normalized] = (i, j)
            passages.append(passage)
        }
        return passages
    }

    // MARK: Typed access

    private func table(_ parent: TOMLTable, _ key: String, path: String) throws(InputError) -> TOMLTable? {
        guard let v = parent[key] else { return nil }
        guard let t = v.table else {
            throw error(at: path, field: path, "\(path) must be a table, found \(v.type)",
                        "Write it as a [\(path)] section (or an inline table { ... }).")
        }
        return t
    }

    private func string(_ v: TOMLValueConvertible, path: String, field: String) throws(InputError) -> String {
        guard let s = v.string else {
            throw error(at: path, field: field, "\(field) must be a string, found \(v.type)",
                        "Put the value in double quotes.")
        }
        return s
    }

    private func number(_ v: TOMLValueConvertible, path: String, field: String) throws(InputError) -> Double {
        let x: Double
        if let d = v.double {
            x = d
        } else if let i = v.int {
            x = Double(i)
        } else {
            throw error(at: path, field: field, "\(field) must be a number, found \(v.type)",
                        "Write a number without quotes, e.g. `1.5`.")
        }
        guard x.isFinite else {
            throw error(at: path, field: field, "\(field) must be a finite number, found \(x)",
                        "Use an ordinary number, not nan or inf.")
        }
        return x
    }

    /// A (message, hint) pair for an error.
    typealias Complaint = (message: String, hint: String)

    /// The number at `key` of the table at `path`; when it is missing, `missing` at the table.
    private func requiredNumber(_ t: TOMLTable, _ key: String, at path: String, field: String,
                                missing: Complaint) throws(InputError) -> Double {
        guard let v = t[key] else { throw error(at: path, field: field, missing.message, missing.hint) }
        return try number(v, path: "\(path).\(key)", field: field)
    }

    /// The string at `key` of the table at `path`, which must hold more than whitespace; when
    /// it is missing, `missing` at the table.
    private func nonEmptyName(_ t: TOMLTable, _ key: String, at path: String, field: String,
                              missing: Complaint, empty: Complaint) throws(InputError) -> String {
        guard let v = t[key] else { throw error(at: path, field: field, missing.message, missing.hint) }
        let s = try string(v, path: "\(path).\(key)", field: field)
        guard !s.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw error(at: "\(path).\(key)", field: field, empty.message, empty.hint)
        }
        return s
    }

    /// The list at `key` of the table at `path`, which must not be empty; when it is missing,
    /// `missing` at the table; when it is not a list, `notList` (the type found is added).
    private func nonEmptyList(_ t: TOMLTable, _ key: String, at path: String, field: String, missing: Complaint,
                              notList: Complaint, empty: Complaint) throws(InputError) -> TOMLArray {
        guard let v = t[key] else { throw error(at: path, field: field, missing.message, missing.hint) }
        let keyPath = "\(path).\(key)"
        guard let list = v.array else {
            throw error(at: keyPath, field: field, "\(notList.message), found \(v.type)", notList.hint)
        }
        guard !list.isEmpty else { throw error(at: keyPath, field: field, empty.message, empty.hint) }
        return list
    }

    private func checkKeys(_ t: TOMLTable, allowed: [String], path: String, what: String) throws(InputError) {
        guard let (key, full) = document.firstUnknownKey(in: t, at: path, allowed: allowed) else { return }
        throw error(at: full, field: key, "unknown key \"\(key)\" \(what)",
                    "Allowed keys \(what): \(allowed.joined(separator: ", ")). Check the spelling.")
    }

    // MARK: Errors

    private func error(at path: String?, field: String?, _ message: String, _ hint: String) -> InputError {
        let pos = path.flatMap { document.position(of: $0) }
        return InputError(file: document.file, line: pos?.line, column: pos?.column, field: field, message: message,
                          hint: hint)
    }

    /// " (line N)" for another place in the file, or "" when it cannot be located.
    private func lineNote(_ path: String) -> String {
        guard let pos = document.position(of: path) else { return "" }
        return " (line \(pos.line))"
    }
}
