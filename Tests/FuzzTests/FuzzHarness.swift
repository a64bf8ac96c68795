import CPOSupport
import Foundation
import Testing

/// How one fuzz case ended.
enum FuzzOutcome {
    /// The input loaded; `problem` is set when the result breaks an invariant of the format.
    case accepted(problem: String?)
    /// The loader threw; the error's description, and a problem when the error is not clear
    /// (no file name, impossible position, ...).
    case refused(description: String, problem: String?)
}

/// One input format under fuzz: how to make case inputs and how to run the real loader on them.
struct FuzzTarget: Sendable {
    /// Short name, used in seeds to replay: `csv`, `jsonl`, `world`, `theme`, `weights`.
    let name: String
    /// Index of this target's slot in `FuzzMonitor` (distinct per target: they run in parallel).
    let slot: Int
    /// The input of the case with seed `seed` (deterministic).
    let input: @Sendable (_ seed: UInt64) -> [UInt8]
    /// Runs the loader on the bytes of the case with seed `seed` (which may pick options).
    let run: @Sendable (_ bytes: [UInt8], _ seed: UInt64) -> FuzzOutcome
}

/// The fuzz loop: case `k` of target `t` uses seed `SeededRandom.derivedSeed(baseSeed, "t#k")`,
/// so every case is reproducible on its own.
///
/// Environment:
/// - `CPO_FUZZ_CASE=format:seed` runs only that case (the seed as printed in failures) and
///   prints its input and outcome, for debugging; the other formats are skipped.
///   With `CPO_FUZZ_DUMP=path` the input is also written to that file.
/// - `CPO_FUZZ_CASES=N` runs N cases per format instead of 10,000 (e.g. a million, locally).
enum Fuzz {
    static let baseSeed: UInt64 = 0xC90_F022
    static let defaultCases = 10_000
    /// A case slower than this fails the run (a hang guard, not a benchmark: cases take
    /// microseconds to a few milliseconds).
    static let caseLimit: Duration = .seconds(2)
    /// Recorded issues per target, beyond which failures are only counted.
    static let maxIssues = 20

    static func caseSeed(_ target: String, _ k: Int) -> UInt64 {
        SeededRandom.derivedSeed(baseSeed, "\(target)#\(k)")
    }

    static var caseCount: Int {
        if let s = ProcessInfo.processInfo.environment["CPO_FUZZ_CASES"], let n = Int(s), n > 0 { return n }
        return defaultCases
    }

    /// `CPO_FUZZ_CASE`, parsed: (format, seed).
    static var replay: (target: String, seed: UInt64)? {
        guard let s = ProcessInfo.processInfo.environment["CPO_FUZZ_CASE"], !s.isEmpty else { return nil }
        let parts = s.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let seed = UInt64(parts[1]) else {
            Issue.record("CPO_FUZZ_CASE must be format:seed (e.g. csv:1234), found \(s)")
            return nil
        }
        return (String(parts[0]), seed)
    }

    /// Runs the cases of `target` (or the one `CPO_FUZZ_CASE` names) and records an issue for
    /// every case that ends badly. A crash ends the process; `FuzzMonitor` then prints the case.
    static func run(_ target: FuzzTarget) {
        FuzzMonitor.install()
        if ProcessInfo.processInfo.environment["CPO_FUZZ_CASE"] != nil {
            guard let (name, seed) = replay, name == target.name else {
                print("fuzz \(target.name): skipped (CPO_FUZZ_CASE replays another case)")
                return
            }
            let input = target.input(seed)
            print("fuzz \(name):\(seed): \(input.count) bytes: \(show(input))")
            if let dump = ProcessInfo.processInfo.environment["CPO_FUZZ_DUMP"], !dump.isEmpty {
                _ = FileManager.default.createFile(atPath: dump, contents: Data(input))
                print("fuzz \(name):\(seed): input written to \(dump)")
            }
            let outcome = target.run(input, seed)
            print("fuzz \(name):\(seed): \(outcome)")
            if let problem = check(outcome) { Issue.record("\(name):\(seed): \(problem)") }
            return
        }

        let cases = caseCount
        var accepted = 0, refused = 0, issues = 0
        var slowest: (seed: UInt64, time: Duration) = (0, .zero)
        var messages: [String: Int] = [:]
        let clock = ContinuousClock()
        let began = clock.now
        for k in 0..<cases {
            let seed = caseSeed(target.name, k)
            FuzzMonitor.begin(slot: target.slot, label: "\(target.name):\(seed)")
            let input = target.input(seed)
            let start = clock.now
            let outcome = target.run(input, seed)
            let elapsed = clock.now - start
            FuzzMonitor.end(slot: target.slot)
            if elapsed > slowest.time { slowest = (seed, elapsed) }
            switch outcome {
            case .accepted: accepted += 1
            case .refused(let d, _):
                refused += 1
                messages[messageKind(d), default: 0] += 1
            }
            var problems: [String] = []
            if let p = check(outcome) { problems.append(p) }
            if elapsed > caseLimit { problems.append("took \(elapsed) (limit \(caseLimit))") }
            for p in problems {
                issues += 1
                if issues <= maxIssues {
                    Issue.record("\(target.name):\(seed) (case \(k)): \(p). Replay with CPO_FUZZ_CASE=\(target.name):\(seed)")
                }
            }
        }
        let total = clock.now - began
        let common = messages.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(6)
            .map { "\($0.value)× \($0.key)" }.joined(separator: "; ")
        print("fuzz \(target.name): \(cases) cases in \(total): \(accepted) accepted, \(refused) refused, "
              + "\(issues) failed; slowest \(target.name):\(slowest.seed) \(slowest.time)")
        print("fuzz \(target.name): most common errors: \(common)")
        if issues > maxIssues { Issue.record("\(target.name): \(issues) failing cases in all (first \(maxIssues) shown)") }
    }

    static func check(_ outcome: FuzzOutcome) -> String? {
        switch outcome {
        case .accepted(let problem): return problem.map { "accepted, but \($0)" }
        case .refused(let d, let problem):
            if d.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "refused with an empty error description" }
            return problem.map { "refused, but \($0): \(d)" }
        }
    }

    /// An error description with the file, positions, numbers and quoted parts blanked out, to
    /// count which kinds of error the cases reach.
    static func messageKind(_ d: String) -> String {
        var s = d
        if let colon = s.range(of: ": ") { s = String(s[colon.upperBound...]) }
        var out = ""
        var quote: Character?
        for c in s.prefix(70) {
            if let q = quote {
                if c == q { quote = nil; out.append(q) }
                continue
            }
            if c == "\"" || c == "'" { quote = c; out.append(c); continue }
            if c.isNumber { if out.last != "#" { out.append("#") }; continue }
            out.append(c)
        }
        return out
    }

    /// Bytes as a Swift-like string literal, for replay output.
    static func show(_ b: [UInt8]) -> String {
        var s = "\""
        for c in b.prefix(4096) {
            switch c {
            case 0x22: s += "\\\""
            case 0x5C: s += "\\\\"
            case 0x0A: s += "\\n"
            case 0x0D: s += "\\r"
            case 0x09: s += "\\t"
            case 0x20..<0x7F: s.append(Character(UnicodeScalar(c)))
            default: s += "\\x" + Hex.byte(c)
            }
        }
        return s + (b.count > 4096 ? "…\"" : "\"")
    }

    // MARK: Checks shared by the formats

    /// Problems with a refusal that names a position: the file not named, or a line or column
    /// that cannot be in the input.
    static func positionProblem(description: String, file: String, line: Int?, column: Int?,
                                input: [UInt8]) -> String? {
        guard description.contains(file) else { return "the error does not name the file" }
        if let line {
            // Lines end with LF, CRLF or (for CSV) a lone CR, so there are at most this many.
            var breaks = 0
            for (i, c) in input.enumerated() where c == 0x0A || (c == 0x0D && (i + 1 == input.count || input[i + 1] != 0x0A)) {
                breaks += 1
            }
            if line < 1 || line > breaks + 1 { return "line \(line) is outside the input (\(breaks + 1) lines)" }
        }
        if let column, column < 1 || column > input.count + 1 { return "column \(column) is impossible" }
        return nil
    }
}

/// Makes a crash or a hang in a fuzz case name the case: the case running in each slot is
/// kept in memory a signal handler can read; on SIGILL/SIGTRAP/SIGSEGV/SIGBUS/SIGFPE/SIGABRT
/// the handler prints every running case with how to replay it, then puts back the previous
/// handler (the Swift runtime's backtracer, or the default) and returns, so the fault repeats
/// and is reported as usual. A watchdog thread aborts the process (printing the case the same
/// way) when one case runs for more than `hangSeconds`, so a real infinite loop ends the run
/// with its seed instead of hanging CI.
enum FuzzMonitor {
    static let slots = 8
    static let labelCapacity = 120
    static let hangSeconds: UInt64 = 60

    nonisolated(unsafe) static let labels: UnsafeMutablePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: slots * labelCapacity)
        p.initialize(repeating: 0, count: slots * labelCapacity)
        return p
    }()
    /// Uptime in ns when the slot's case started; 0 = idle.
    nonisolated(unsafe) static let starts: UnsafeMutablePointer<UInt64> = {
        let p = UnsafeMutablePointer<UInt64>.allocate(capacity: slots)
        p.initialize(repeating: 0, count: slots)
        return p
    }()
    static let signals: [Int32] = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE, SIGABRT]
    nonisolated(unsafe) static let previous: UnsafeMutablePointer<sigaction> = {
        let p = UnsafeMutablePointer<sigaction>.allocate(capacity: 64)
        p.initialize(repeating: sigaction(), count: 64)
        return p
    }()

    private static let installOnce: Void = {
        _ = labels; _ = starts; _ = previous
        for s in signals {
            sigaction(s, nil, previous + Int(s))
            signal(s, { sig in
                FuzzMonitor.report("fuzz: the process died during a fuzz case", signal: sig)
                sigaction(sig, FuzzMonitor.previous + Int(sig), nil)
            })
        }
        let watchdog = Thread {
            while true {
                sleep(1)
                let now = DispatchTime.now().uptimeNanoseconds
                for s in 0..<FuzzMonitor.slots {
                    let t = FuzzMonitor.starts[s]
                    if t != 0 && now > t && now - t > FuzzMonitor.hangSeconds * 1_000_000_000 {
                        let message: StaticString = "\nfuzz: a fuzz case ran for more than a minute (a hang)"
                        _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
                        abort()   // the SIGABRT handler names the case
                    }
                }
            }
        }
        watchdog.name = "fuzz watchdog"
        watchdog.start()
    }()

    static func install() { _ = installOnce }

    static func begin(slot: Int, label: String) {
        let base = labels + slot * labelCapacity
        let bytes = Array(label.utf8.prefix(labelCapacity - 1))
        for (i, c) in bytes.enumerated() { base[i] = c }
        base[bytes.count] = 0
        starts[slot] = DispatchTime.now().uptimeNanoseconds
    }

    static func end(slot: Int) { starts[slot] = 0 }

    /// Writes `prefix` (and the signal number) and every running case to stderr, with only
    /// `write` calls on static strings and memory allocated up front: it runs in a signal
    /// handler.
    static func report(_ prefix: StaticString, signal sig: Int32? = nil) {
        func put(_ s: StaticString) { _ = write(2, s.utf8Start, s.utf8CodeUnitCount) }
        var running = false
        for s in 0..<slots where starts[s] != 0 { running = true }
        guard running else { return }   // a crash outside the fuzz cases: not ours to name
        put("\n")
        put(prefix)
        if let sig {
            put(" (signal ")
            var digits: (UInt8, UInt8, UInt8) = (0x30, 0x30, 0x30)
            let v = Int(max(0, min(999, sig)))
            digits.0 = UInt8(0x30 + v / 100); digits.1 = UInt8(0x30 + v / 10 % 10); digits.2 = UInt8(0x30 + v % 10)
            withUnsafeBytes(of: &digits) { _ = write(2, $0.baseAddress, 3) }
            put(")")
        }
        put("\n")
        for s in 0..<slots where starts[s] != 0 {
            let base = labels + s * labelCapacity
            var n = 0
            while n < labelCapacity && base[n] != 0 { n += 1 }
            put("  case ")
            _ = write(2, base, n)
            put("; replay with: CPO_FUZZ_CASE=")
            _ = write(2, base, n)
            put(" swift test --filter FuzzTests\n")
        }
    }
}
