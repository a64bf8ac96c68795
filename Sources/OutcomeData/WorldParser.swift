import CPOSupport
import Foundation
import TOMLKit

extension World {
    /// World files larger than this are refused before they are read. The shipped ones are a
    /// few KB and a world of 20,000 attributes is 1.5 MB; parsing costs memory many times the
    /// file's size (a 16 MB file of one long list peaks near 2.3 GB in toml++'s nodes and the
    /// position index), so the limit stays well below that.
    public static let maxFileBytes = 4 << 20

    /// Reads and validates the world file at `path` (see ``parse(_:file:)``). A file larger
    /// than ``maxFileBytes`` is refused from its size, without being read.
    public static func load(path: String) throws(InputError) -> World {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path: path, maxBytes: maxFileBytes)
        } catch {
            switch error {
            case .notFound:
                throw InputError(file: path, message: "cannot read the world file: file not found",
                                 hint: "Check the path (relative paths start from \(FileManager.default.currentDirectoryPath)).")
            case .isDirectory:
                throw InputError(file: path, message: "cannot read the world file: it is a directory",
                                 hint: "Pass the .toml world file itself, or the name of a shipped world.")
            case let .tooLarge(_, size, limit):
                throw InputError(
                    file: path,
                    message: "the world file is \(BoundedFile.describeSize(size)), more than the limit of \(BoundedFile.describeSize(limit))",
                    hint: "World files are small text files (the shipped ones are a few KB): check that this is the right file.")
            case .cannotAccess(_, let reason), .cannotOpen(_, let reason), .readFailed(_, let reason):
                throw InputError(file: path, message: "cannot read the world file: \(reason)",
                                 hint: "Check that the path exists and is a readable file.")
            }
        }
        return try parse(bytes: bytes, file: path)
    }

    /// Parses and validates the bytes of a world file, as ``load(path:)`` does after reading
    /// it: invalid UTF-8 is an error at its line and column, then ``parse(_:file:)``.
    public static func parse(bytes: [UInt8], file: String) throws(InputError) -> World {
        switch UTF8Text.decode(bytes) {
        case .success(let text):
            return try parse(text, file: file)
        case .failure(let p):
            throw textError(p, file: file)
        }
    }

    static func textError(_ p: UTF8Text.Problem, file: String) -> InputError {
        InputError(file: file, line: p.line, column: p.column,
                   message: "the world file is not valid UTF-8 text: \(p)", hint: "Save it as UTF-8.")
    }

    static func guardError(_ p: TOMLGuard.Problem, file: String) -> InputError {
        switch p.kind {
        case .nul:
            return InputError(file: file, line: p.line, column: p.column,
                              message: "the world file contains a NUL character, which TOML does not allow",
                              hint: "A world file is UTF-8 text: check that this is the right file (not a binary or UTF-16 file).")
        case .escapedNUL:
            return InputError(file: file, line: p.line, column: p.column,
                              message: "a string holds \\u0000 (a NUL character), which a world file cannot hold",
                              hint: "Remove the \\u0000 escape.")
        case .tooDeep:
            return InputError(file: file, line: p.line, column: p.column, message: p.message,
                              hint: "A world file needs three levels at most ([observational.tilt]); check that this is the right file.")
        case .headerName, .arrayElement, .dateTime:
            return InputError(file: file, line: p.line, column: p.column, message: "TOML syntax error: \(p.message)",
                              hint: "Fix the TOML syntax at this position (see docs/WORLDS.md for the format).")
        }
    }

    /// Parses and validates a world file (docs/WORLDS.md); `file` names it in errors.
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
    public static func parse(_ toml: String, file: String) throws(InputError) -> World {
        var source = toml
        if source.hasPrefix("\u{FEFF}") { source.removeFirst() }
        // Text that toml++ would cut short (NUL) or crash on (failed assertions): see TOMLGuard.
        if let p = TOMLGuard.check(source) { throw guardError(p, file: file) }
        let root: TOMLTable
        do {
            root = try TOMLTable(string: source)
        } catch {
            if let e = error as? TOMLParseError {
                throw InputError(file: file, line: e.source.begin.line, column: e.source.begin.column,
                                 message: "TOML syntax error: \(e.description)",
                                 hint: "Fix the TOML syntax at this position (see docs/WORLDS.md for the format).")
            }
            throw InputError(file: file, message: "cannot parse the world file as TOML", hint: "Check its syntax.")
        }
        let reader = WorldFileReader(file: file, locator: TOMLLocator(source))
        return try reader.read(root)
    }
}

/// Validates a parsed TOML table against the world schema, locating each problem in the raw text.
struct WorldFileReader {
    let file: String
    let locator: TOMLLocator

    static let topKeys = ["name", "description", "outcome", "design", "readers", "attribute", "observational"]
    static let outcomeKeys = ["kind", "baseline", "noise_sd"]
    static let designKeys = ["passages", "attention", "invalid_effect"]
    static let readersKeys = ["trait", "prevalence", "effect"]
    static let attributeKeys = ["name", "effect", "passages"]
    static let observationalKeys = ["tilt"]

    func read(_ root: TOMLTable) throws(InputError) -> World {
        try checkKeys(root, allowed: WorldFileReader.topKeys, path: "", what: "at the top level")

        // name, description
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
        var description = ""
        if let v = root["description"] { description = try string(v, path: "description", field: "description") }

        // [outcome]
        var kind = OutcomeKind.continuous
        var baseline = 0.0
        var noiseSD = 0.0
        let outcome = try table(root, "outcome", path: "outcome")
        if let outcome {
            try checkKeys(outcome, allowed: WorldFileReader.outcomeKeys, path: "outcome", what: "in [outcome]")
            if let v = outcome["kind"] {
                let s = try string(v, path: "outcome.kind", field: "outcome.kind")
                guard let k = OutcomeKind(rawValue: s) else {
                    throw error(at: "outcome.kind", field: "outcome.kind", "unknown outcome kind \"\(s)\"",
                                "Use \"continuous\" or \"binary\".")
                }
                kind = k
            }
            if let v = outcome["baseline"] { baseline = try number(v, path: "outcome.baseline", field: "outcome.baseline") }
        }
        if let v = outcome?["noise_sd"] {
            noiseSD = try number(v, path: "outcome.noise_sd", field: "outcome.noise_sd")
            guard noiseSD >= 0 else {
                throw error(at: "outcome.noise_sd", field: "outcome.noise_sd",
                            "noise_sd must be zero or positive, found \(noiseSD)",
                            "Set it to the standard deviation of readers' responses, e.g. `noise_sd = 10.0`.")
            }
        } else if kind == .continuous {
            throw error(at: outcome == nil ? nil : "outcome", field: "outcome.noise_sd",
                        "a continuous world needs noise_sd",
                        "Add `noise_sd = ...` (reader-level standard deviation, 0 for none) under [outcome].")
        }

        // [[attribute]]
        let attributes = try readAttributes(root)

        // [design]
        guard let design = try table(root, "design", path: "design") else {
            throw error(at: nil, field: "design", "missing the [design] table",
                        "Add a [design] table with `passages = [2, 3]` (passages per text).")
        }
        try checkKeys(design, allowed: WorldFileReader.designKeys, path: "design", what: "in [design]")
        guard let passagesValue = design["passages"] else {
            throw error(at: "design", field: "design.passages", "[design] has no passages list",
                        "Add `passages = [2, 3]`: the numbers of passages per text, drawn uniformly.")
        }
        guard let counts = passagesValue.array else {
            throw error(at: "design.passages", field: "design.passages",
                        "design.passages must be a list of integers, found \(passagesValue.type)",
                        "Write it as a list, e.g. `passages = [2, 3]`.")
        }
        guard !counts.isEmpty else {
            throw error(at: "design.passages", field: "design.passages", "design.passages is empty",
                        "List at least one number of passages per text, e.g. `passages = [2, 3]`.")
        }
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
            guard k <= attributes.count else {
                throw error(at: path, field: "design.passages",
                            "a text of \(k) passages needs \(k) distinct attributes, but the world has \(attributes.count)",
                            "Lower the count to at most \(attributes.count) or add attributes.")
            }
            passageCounts.append(k)
        }
        var attention = 3
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

        // [readers]
        var readers: World.Readers?
        if let r = try table(root, "readers", path: "readers") {
            try checkKeys(r, allowed: WorldFileReader.readersKeys, path: "readers", what: "in [readers]")
            guard let traitValue = r["trait"] else {
                throw error(at: "readers", field: "readers.trait", "[readers] has no trait name",
                            "Add e.g. `trait = \"regular-patron\"`, or remove [readers] for a world without a trait.")
            }
            let trait = try string(traitValue, path: "readers.trait", field: "readers.trait")
            guard !trait.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw error(at: "readers.trait", field: "readers.trait", "the trait name is empty",
                            "Name the trait, e.g. `trait = \"regular-patron\"`.")
            }
            guard let pv = r["prevalence"] else {
                throw error(at: "readers", field: "readers.prevalence", "[readers] has no prevalence",
                            "Add `prevalence = 0.5`: the share of readers with C = +1.")
            }
            let prevalence = try number(pv, path: "readers.prevalence", field: "readers.prevalence")
            guard prevalence >= 0 && prevalence <= 1 else {
                throw error(at: "readers.prevalence", field: "readers.prevalence",
                            "prevalence must lie in [0, 1], found \(prevalence)",
                            "It is P(C = +1), a probability, e.g. `prevalence = 0.5`.")
            }
            guard let ev = r["effect"] else {
                throw error(at: "readers", field: "readers.effect", "[readers] has no effect",
                            "Add `effect = ...`: a reader's response shifts by effect * C.")
            }
            let effect = try number(ev, path: "readers.effect", field: "readers.effect")
            readers = World.Readers(trait: trait, prevalence: prevalence, effect: effect)
        }

        // [observational]
        var tilt: [String: Double] = [:]
        let observational = try table(root, "observational", path: "observational")
        if let observational {
            try checkKeys(observational, allowed: WorldFileReader.observationalKeys, path: "observational",
                          what: "in [observational]")
            if let t = try table(observational, "tilt", path: "observational.tilt") {
                let names = attributes.map(\.name)
                let nameSet = Set(names)
                for key in locator.sortedBySource(t.keys, under: "observational.tilt") {
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
            }
        }

        return World(name: name, description: description, outcomeKind: kind, baseline: baseline,
                     noiseSD: noiseSD, passageCounts: passageCounts, attention: attention,
                     invalidEffect: invalidEffect, readers: readers, attributes: attributes, tilt: tilt,
                     hasObservationalDesign: observational != nil)
    }

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
            try checkKeys(t, allowed: WorldFileReader.attributeKeys, path: at, what: "in attribute \(i + 1)")
            guard let nv = t["name"] else {
                throw error(at: at, field: "attribute.name", "attribute \(i + 1) has no name",
                            "Add e.g. `name = \"urgency\"` under its [[attribute]] header.")
            }
            let name = try string(nv, path: "\(at).name", field: "attribute.name")
            guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw error(at: "\(at).name", field: "attribute.name", "attribute \(i + 1) has an empty name",
                            "Give it a short name, e.g. `name = \"urgency\"`.")
            }
            if let other = indexOfName[name] {
                throw error(at: "\(at).name", field: "attribute.name",
                            "attribute \(i + 1) is named \"\(name)\" like attribute \(other + 1)\(lineNote("attribute[\(other)].name"))",
                            "Give every attribute a different name.")
            }
            let label = "attribute \"\(name)\""
            guard let ev = t["effect"] else {
                throw error(at: at, field: "attribute.effect", "\(label) has no effect",
                            "Add `effect = ...`: the true causal effect of including it.")
            }
            let effect = try number(ev, path: "\(at).effect", field: "attribute.effect")
            guard let pv = t["passages"] else {
                throw error(at: at, field: "attribute.passages", "\(label) has no passages",
                            "Add `passages = [\"...\", ...]`: one or more sentences expressing it.")
            }
            guard let pool = pv.array else {
                throw error(at: "\(at).passages", field: "attribute.passages",
                            "the passages of \(label) must be a list of strings, found \(pv.type)",
                            "Write `passages = [\"First sentence.\", \"Second sentence.\"]`.")
            }
            guard !pool.isEmpty else {
                throw error(at: "\(at).passages", field: "attribute.passages", "\(label) has an empty pool of passages",
                            "Give it at least one passage, or remove the attribute.")
            }
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

    private func checkKeys(_ t: TOMLTable, allowed: [String], path: String, what: String) throws(InputError) {
        let unknown = t.keys.filter { !allowed.contains($0) }
        guard !unknown.isEmpty else { return }
        let key = locator.sortedBySource(unknown, under: path)[0]
        let full = path.isEmpty ? key : "\(path).\(key)"
        throw error(at: full, field: key, "unknown key \"\(key)\" \(what)",
                    "Allowed keys \(what): \(allowed.joined(separator: ", ")). Check the spelling.")
    }

    // MARK: Errors

    private func error(at path: String?, field: String?, _ message: String, _ hint: String) -> InputError {
        let pos = path.flatMap { locator.position(of: $0) }
        return InputError(file: file, line: pos?.line, column: pos?.column, field: field, message: message,
                          hint: hint)
    }

    /// " (line N)" for another place in the file, or "" when it cannot be located.
    private func lineNote(_ path: String) -> String {
        guard let pos = locator.position(of: path) else { return "" }
        return " (line \(pos.line))"
    }
}
