import Foundation

/// Splits a growing JSON Lines file into objects as its bytes arrive, in chunks that may end
/// anywhere (inside a line, inside a UTF-8 character). A line counts once it ends with `\n`, or,
/// for the last line still without one, once it already parses as a whole JSON object (a
/// writer that has not yet added its newline): a cut-off object never parses, so a half-written
/// line is held back until the rest arrives. Pure: no files, no clock.
public struct JSONLinesSplitter: Sendable {
    /// One line: its 1-based line number and the object, or why it is not one.
    public struct Line: @unchecked Sendable {
        public var number: Int
        public var object: [String: Any]?
        /// Set when the line is complete but not a JSON object.
        public var problem: String?
        /// The line's bytes (without the newline).
        public var bytes: [UInt8]
    }

    private var pending: [UInt8] = []
    /// Lines handed out so far (the next line's number is this + 1).
    public private(set) var linesRead = 0
    /// The last line was taken before its newline arrived: the newline is still to come and
    /// must not start an empty line.
    private var tookUnterminated = false

    public init() {}

    /// Bytes of an incomplete last line held back.
    public var pendingByteCount: Int { pending.count }

    /// The lines that `chunk` completes, in order. Blank lines are skipped (and counted).
    public mutating func feed(_ chunk: some Collection<UInt8>) -> [Line] {
        var out: [Line] = []
        let bytes = Array(chunk)
        var start = 0
        while start < bytes.count {
            guard let nl = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                pending.append(contentsOf: bytes[start...])
                break
            }
            pending.append(contentsOf: bytes[start..<nl])
            // After a line taken before its newline, that newline (maybe after a CR) ends nothing new.
            let endsTakenLine = tookUnterminated && pending.allSatisfy { $0 == UInt8(ascii: "\r") }
            tookUnterminated = false
            if !endsTakenLine, let l = take(pending) { out.append(l) }
            pending.removeAll(keepingCapacity: true)
            start = nl + 1
        }
        // A last line without its newline, already a whole object: take it now.
        if !pending.isEmpty, Self.parse(pending).object != nil {
            if let l = take(pending) { out.append(l) }
            pending.removeAll(keepingCapacity: true)
            tookUnterminated = true
        }
        return out
    }

    private mutating func take(_ bytes: [UInt8]) -> Line? {
        linesRead += 1
        var b = bytes
        if b.last == UInt8(ascii: "\r") { b.removeLast() }
        if b.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
        let (object, problem) = Self.parse(b)
        return Line(number: linesRead, object: object, problem: problem, bytes: b)
    }

    static func parse(_ bytes: [UInt8]) -> (object: [String: Any]?, problem: String?) {
        guard let any = try? JSONSerialization.jsonObject(with: Data(bytes)) else { return (nil, "not valid JSON") }
        guard let o = any as? [String: Any] else { return (nil, "not a JSON object") }
        return (o, nil)
    }
}

/// Reading values out of JSON objects leniently: numbers as numbers or as the strings the
/// lab writes for non-finite ones ("nan", "inf", "-inf").
enum JSONValue {
    static func double(_ v: Any?) -> Double? {
        switch v {
        case let d as Double: return d
        case let n as NSNumber: return n.doubleValue
        case let s as String:
            switch s.lowercased() {
            case "nan": return .nan
            case "inf", "infinity": return .infinity
            case "-inf", "-infinity": return -.infinity
            default: return Double(s)
            }
        default: return nil
        }
    }

    static func int(_ v: Any?) -> Int? {
        guard let d = double(v), d.isFinite, d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }

    static func bool(_ v: Any?) -> Bool? {
        if let b = v as? Bool { return b }
        return nil
    }
}
