import CausalPO
import CPOSupport
import Foundation
import OutcomeData

/// `cpo-tui ghat score`: an exported ĝ applied to texts written elsewhere (the f0 samples a GPU
/// job draws), with exactly the predictions the lab computes.
public enum GhatScoring {
    /// The most a ghat.json may hold.
    public static let maxModelBytes = 1 << 30

    /// Reads a ghat.json: syntax errors with their line and column, a file of another kind or
    /// version named as such, every value checked.
    public static func loadModel(_ path: String) throws(BridgeError) -> PortableOutcomeModel {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path: path, maxBytes: maxModelBytes)
        } catch {
            throw BridgeError("--model " + error.description + ". Pass the ghat.json that cpo-tui export wrote.")
        }
        return try decodeModel(bytes, file: path)
    }

    public static func decodeModel(_ bytes: [UInt8], file: String) throws(BridgeError) -> PortableOutcomeModel {
        do {
            try JSONLines.checkObject(bytes, file: file)
        } catch {
            throw BridgeError(error)
        }
        do {
            return try JSONDecoder().decode(PortableOutcomeModel.self, from: Data(bytes))
        } catch let e as PortableOutcomeModelError {
            throw BridgeError("\(file): \(e.description)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw BridgeError("\(file): the ĝ file is damaged: key \"\(path(context.codingPath + [key]))\" is missing. Export it again.")
        } catch let DecodingError.typeMismatch(_, context) {
            throw BridgeError("\(file): the ĝ file is damaged: \"\(path(context.codingPath))\" has the wrong type (\(context.debugDescription)). Export it again.")
        } catch let DecodingError.valueNotFound(_, context) {
            throw BridgeError("\(file): the ĝ file is damaged: \"\(path(context.codingPath))\" is null. Export it again.")
        } catch let DecodingError.dataCorrupted(context) {
            throw BridgeError("\(file): the ĝ file is damaged: \"\(path(context.codingPath))\": \(context.debugDescription). Export it again.")
        } catch {
            throw BridgeError("\(file): \(error)")
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    /// Scores each object of the JSON Lines file `input` by the text under `textKey` and writes
    /// it to `output` with `"ghat"` set (in its place if the object had one, else last), every
    /// other key and value exactly as written. The output is written atomically and never over
    /// the input. Returns the number of objects scored.
    @discardableResult
    public static func score(model: PortableOutcomeModel, input: String, output: String, textKey: String = "text") throws(BridgeError) -> Int {
        if sameFile(input, output) {
            throw BridgeError("--out \(output) is the input file; write the scores to another file (the input is never overwritten)")
        }
        let objects: [JSONObjectLine]
        do {
            objects = try JSONLines.read(path: input)
        } catch {
            throw BridgeError(error)
        }
        if objects.isEmpty {
            throw BridgeError(InputError(file: input, message: "the file holds no JSON objects",
                                         hint: "Pass a JSON Lines file with one object per line, each with a \"\(textKey)\" key."))
        }
        var texts: [String] = []
        texts.reserveCapacity(objects.count)
        for o in objects {
            switch o.value(textKey) {
            case .string(let t): texts.append(t)
            case .missing:
                throw BridgeError(InputError(
                    file: input, line: o.line, message: "the object has no key \"\(textKey)\"",
                    hint: "Its keys are: \(o.keys.map { "\"\($0)\"" }.joined(separator: ", ")). Name the key holding the text with --text-key KEY."))
            case .other(let kind):
                throw BridgeError(InputError(
                    file: input, line: o.line, message: "\"\(textKey)\" holds \(kind), not a string",
                    hint: "Each line's \"\(textKey)\" must be the text to score; name another key with --text-key KEY."))
            }
        }
        let scores = model.predict(texts)
        var out = ""
        for (o, g) in zip(objects, scores) {
            var fields: [(String, JSONText)] = o.keys.map { ($0, .raw(o.rawValues[$0] ?? "null")) }
            if let k = fields.firstIndex(where: { $0.0 == "ghat" }) { fields[k].1 = .number(g) } else { fields.append(("ghat", .number(g))) }
            out += JSONText.object(fields).rendered() + "\n"
        }
        do {
            try AtomicFile.write(Array(out.utf8), to: output)
        } catch {
            throw BridgeError("--out: " + error.description)
        }
        return objects.count
    }

    /// Whether two paths name the same file (by device and inode when both exist).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        if stat(a, &sa) == 0 && stat(b, &sb) == 0 { return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino }
        return URL(fileURLWithPath: a).standardizedFileURL.path == URL(fileURLWithPath: b).standardizedFileURL.path
    }
}
