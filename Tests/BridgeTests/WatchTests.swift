import CausalPO
import Dashboard
import Foundation
import Lab
import OutcomeData
import Testing
@testable import Bridge

@Suite struct JSONLinesSplitterTests {
    static let text = "{\"type\":\"step\",\"loss\":1}\n{\"type\":\"step\",\"text\":\"é—ü\"}\n\n{\"type\":\"epoch\"}\n"

    /// Fed whole, byte by byte, or in chunks cut anywhere (inside a line, inside a UTF-8
    /// character), the splitter gives the same lines.
    @Test func chunkBoundariesDoNotMatter() {
        let bytes = Array(Self.text.utf8)
        var whole = JSONLinesSplitter()
        let expected = whole.feed(bytes).map(\.bytes)
        #expect(expected.count == 3)
        for size in [1, 2, 3, 7, 19] {
            var s = JSONLinesSplitter()
            var got: [[UInt8]] = []
            for start in stride(from: 0, to: bytes.count, by: size) {
                got += s.feed(bytes[start..<min(bytes.count, start + size)]).map(\.bytes)
            }
            #expect(got == expected, "chunks of \(size)")
            #expect(s.linesRead == 4 && s.pendingByteCount == 0)
        }
    }

    /// A half-written last line is held back until it is complete; a complete object whose
    /// newline has not arrived yet is taken, and its newline later starts no extra line.
    @Test func anIncompleteLastLineWaits() {
        var s = JSONLinesSplitter()
        #expect(s.feed(Array("{\"type\":\"step\",\"lo".utf8)).isEmpty)
        #expect(s.pendingByteCount > 0)
        let done = s.feed(Array("ss\":2}".utf8))
        #expect(done.count == 1 && done[0].object?["loss"] as? Int == 2 && done[0].number == 1)
        let next = s.feed(Array("\n{\"a\":1}\n".utf8))
        #expect(next.count == 1 && next[0].number == 2)
        // The same with CRLF, the CR and LF arriving apart.
        #expect(s.feed(Array("{\"b\":1}".utf8)).count == 1)
        #expect(s.feed(Array("\r".utf8)).isEmpty)
        let after = s.feed(Array("\n{\"c\":1}\r\n".utf8))
        #expect(after.count == 1 && after[0].number == 4 && after[0].object?["c"] != nil)
    }

    @Test func aLineThatIsNotAnObjectSaysSo() {
        var s = JSONLinesSplitter()
        let lines = s.feed(Array("not json\n[1,2]\n".utf8))
        #expect(lines.map(\.problem) == ["not valid JSON", "not a JSON object"])
    }
}

/// The fixture run directory: a train_cpo.py run (BRIDGE-SPEC sections 2-3) written by hand.
enum WatchFixture {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let run = fixtures.appendingPathComponent("watch-run")

    /// A model named "watch-run" (so renders do not depend on where the checkout is) that
    /// reads its files from the fixture folder.
    static func model() -> WatchModel {
        let root = fixtures.path
        return WatchModel(directory: "watch-run") { path throws(InputError) in
            try WatchModel.readFile(root + "/" + path)
        }
    }

    static func metrics() throws -> [UInt8] { Array(try Data(contentsOf: run.appendingPathComponent("metrics.jsonl"))) }

    static func readOnlyView(_ kind: ViewKind = .dashboard) -> ViewState {
        var v = ViewState()
        v.keymap = .readOnly
        v.view = kind
        v.timeZone = TimeZone(identifier: "UTC") ?? .current
        return v
    }
}

@Suite struct WatchModelTests {
    @Test func theFixtureRunShowsEveryPart() throws {
        var m = WatchFixture.model()
        m.ingest(try WatchFixture.metrics())
        let s = m.snapshot()
        #expect(s.methods.map(\.method) == [.ft, .cpo])
        #expect(s.ftHistory.map(\.epoch) == [1, 2])
        #expect(s.sourceLabel == "train_cpo.py tiny-gpt2 (2 processes)")
        let cpo = try #require(s.method(.cpo))
        #expect(cpo.steps.map(\.loss) == [1.5, 1.25, 1.375, 1.0])
        // CPO's epoch 0 is FT's evaluation, as in the lab; epoch 1 computed from its files.
        #expect(cpo.epochs.map(\.epoch) == [0, 1] && cpo.epoch == 1)
        let e1 = try #require(cpo.epochs.last)
        let direct = RowsEstimate(
            rows: try RowsFile(path: WatchFixture.run.appendingPathComponent("evals/rows-CPO-seed0-epoch1.csv").path),
            f0: try F0File(path: WatchFixture.run.appendingPathComponent("evals/f0-CPO-seed0-epoch1.csv").path), batchSize: 4)
        for est in Estimator.allCases { #expect(e1.estimates[est] == direct.evaluation.estimates[est], "\(est)") }
        #expect(e1.weights == direct.evaluation.weights && e1.weights.batchSize == 4)
        #expect(e1.klToFT.value == 0.125 && e1.samples.count == 2 && e1.trainLoss == 1.28125)
        #expect(s.phase == .running)
        #expect(m.waitingEpochs == 0)
    }

    /// The file grows between polls, in pieces cut inside lines: the state after each piece is
    /// what the lines complete so far say, and it never goes back.
    @Test func aGrowingFileIsFollowed() throws {
        let bytes = try WatchFixture.metrics()
        var whole = WatchFixture.model()
        whole.ingest(bytes)
        var m = WatchFixture.model()
        #expect(m.snapshot().methods.isEmpty)
        var stepsSeen = 0
        for start in stride(from: 0, to: bytes.count, by: 97) {
            m.ingest(bytes[start..<min(bytes.count, start + 97)])
            let n = m.snapshot().method(.cpo)?.steps.count ?? 0
            #expect(n >= stepsSeen)
            stepsSeen = n
        }
        // (Snapshots hold NaN win rates, so compare what they show rather than with ==.)
        let (a, b) = (m.snapshot(), whole.snapshot())
        #expect(a.methods.map(\.steps) == b.methods.map(\.steps))
        let dr = { (s: LabSnapshot) in s.methods.map { m in m.epochs.map { $0.estimates[.dr].value } } }
        #expect(dr(a) == dr(b))
        #expect(a.ftHistory == b.ftHistory && a.version > 0)
    }

    @Test func unknownTypesKeysAndBadLinesAreSkipped() throws {
        var m = WatchModel(directory: "d") { path throws(InputError) in throw InputError(file: path, message: "file not found", hint: "") }
        m.ingest(Array("""
            {"type":"mystery","seed":0,"x":1}
            {"type":"step","seed":0,"method_name":"CPO","epoch":1,"step":1,"loss":2.5,"new_key":[1,2]}
            this is not json
            {"type":"step","seed":0,"method_name":"NOPE","epoch":1,"step":1,"loss":2.5}
            {"type":"step","seed":1,"method_name":"CPO","epoch":1,"step":1,"loss":9}
            {"type":"step","seed":0,"method_name":"CPO","epoch":1,"step":2}

            """.utf8))
        let s = m.snapshot()
        #expect(s.method(.cpo)?.steps.map(\.loss) == [2.5])
        #expect(s.messages.contains { $0.contains("metrics.jsonl:3: not valid JSON") })
        #expect(s.messages.contains { $0.contains("'NOPE'") })
        #expect(s.messages.contains { $0.contains("seed 1") })
        #expect(s.messages.contains { $0.contains(":6: step line without a numeric 'loss'") })
        // --seed 1 shows the other seed's lines instead.
        var one = WatchModel(directory: "d", seed: 1)
        one.ingest(Array("{\"type\":\"step\",\"seed\":0,\"method_name\":\"CPO\",\"loss\":2.5}\n{\"type\":\"step\",\"seed\":1,\"method_name\":\"CPO\",\"loss\":9}\n".utf8))
        #expect(one.snapshot().method(.cpo)?.steps.map(\.loss) == [9] && one.snapshot().seed == 1)
    }

    /// An epoch line whose files cannot be read yet waits and is retried; once they appear, it
    /// shows. No metrics.jsonl at all: the view says it is waiting for it.
    @Test func epochFilesThatAppearLaterAreRetried() throws {
        final class Files: @unchecked Sendable { var ready = false }
        let files = Files()
        let root = WatchFixture.fixtures.path
        var m = WatchModel(directory: "watch-run") { path throws(InputError) in
            guard files.ready else { throw InputError(file: path, message: "file not found", hint: "") }
            return try WatchModel.readFile(root + "/" + path)
        }
        if case .preparing(_, _, let message) = m.snapshot().phase {
            #expect(message == "waiting for watch-run/metrics.jsonl")
        } else {
            Issue.record("no waiting phase before metrics.jsonl exists")
        }
        m.ingest(try WatchFixture.metrics())
        #expect(m.waitingEpochs == 2 && m.snapshot().method(.cpo)?.epochs.isEmpty == true)
        #expect(m.snapshot().messages.contains { $0.contains("waits for its files: watch-run/evals/rows-FT-seed0-epoch0.csv: file not found") })
        let tooEarly = m.retryPending()
        #expect(!tooEarly)
        files.ready = true
        let retried = m.retryPending()
        #expect(retried)
        #expect(m.waitingEpochs == 0 && m.snapshot().method(.cpo)?.epochs.count == 2)
    }

    /// A Swift lab report's epoch lines carry their estimates: decoded as written.
    @Test func labEpochLinesAreDecoded() throws {
        let metrics = EpochMetrics(
            method: .cpo, epoch: 1, trainLoss: 3, estimates: Estimates([.dr: Estimate(value: 54, standardError: 1)]), trueValue: nil,
            normalizedGain: nil, invalidRate: nil, attributeShares: nil, winRateVsFT: Estimate(value: 0.5, standardError: 0.1),
            klToFT: Estimate(value: 0.2, standardError: 0.01),
            weights: Diagnostics.weightSummary(logP: [0, 1, 2], logPR: [0, 0, 0], batchSize: 2), samples: [], seconds: 1)
        let enc = JSONEncoder()
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var obj = String(decoding: try enc.encode(metrics), as: UTF8.self)
        obj.removeFirst()
        var m = WatchModel(directory: "d")
        m.ingest(Array(("{\"type\":\"epoch\",\"seed\":0,\"method_name\":\"CPO\"," + obj + "\n").utf8))
        #expect(m.snapshot().method(.cpo)?.epochs == [metrics])
    }
}

/// The fixture run rendered as `cpo-tui watch --once` draws it. To (re)record after an
/// intended change: CPO_RECORD_SNAPSHOTS=1 swift test --filter WatchRenderTests, then read the
/// diff of Fixtures/ before committing it.
@Suite struct WatchRenderTests {
    static let recording = ProcessInfo.processInfo.environment["CPO_RECORD_SNAPSHOTS"] == "1"

    func check(_ name: String, _ text: String) throws {
        let url = WatchFixture.fixtures.appendingPathComponent(name + ".txt")
        if Self.recording {
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "\(name) differs from Fixtures/\(name).txt:\n\(text)")
    }

    @Test func theFixtureRunRendersAsRecorded() throws {
        var m = WatchFixture.model()
        m.ingest(try WatchFixture.metrics())
        let s = m.snapshot()
        try check("watch-run-dashboard-120x40", DashboardView.render(s, WatchFixture.readOnlyView(), width: 120, height: 40).plainText())
        try check("watch-run-compare-100x30", DashboardView.render(s, WatchFixture.readOnlyView(.compare), width: 100, height: 30).plainText())
    }

    /// The data view has no dataset to show in watch mode, but it shows what the run line says
    /// of the configuration, and its messages panel the newest thing the watch noticed.
    @Test func theDataViewShowsTheWatchMessages() throws {
        var m = WatchFixture.model()
        m.ingest(try WatchFixture.metrics())
        m.ingest(Array("not json\n".utf8))
        let text = DashboardView.render(m.snapshot(), WatchFixture.readOnlyView(.data), width: 120, height: 40).plainText()
        #expect(text.contains("P^R from logged") && text.contains("watch-run/metrics.jsonl:11: not valid JSON"), "\(text)")
    }

    /// Watch mode's keys: nothing that trains, samples, saves or writes; the hint bar says so.
    @Test func trainingKeysAreOff() {
        let k = Keymap.readOnly
        for key: Key in [.char("n"), .char("s"), .char(" "), .char("r"), .char("w"), .char("g"), .char("p")] {
            #expect(k.action(for: key) == nil, "\(key.name)")
        }
        #expect(k.action(for: .char("q")) == .quit && k.duplicateKeys.isEmpty)
        #expect(k.hintBar(width: 80).contains("read-only"))
    }
}

/// The follower on real files: metrics.jsonl appears, grows (its last line cut mid-write),
/// and is replaced by a shorter file.
@Suite struct WatchFollowerTests {
    /// (`#expect` cannot call a mutating method itself.)
    func poll(_ f: inout WatchFollower) -> Bool { f.poll() }

    @Test func followsAFileAsItIsWritten() throws {
        let dir = NSTemporaryDirectory() + "cpo-watch-follow-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/metrics.jsonl"
        var f = WatchFollower(directory: dir)
        f.poll()
        #expect(!f.model.metricsFound)
        let step = { (i: Int) in "{\"type\":\"step\",\"seed\":0,\"method_name\":\"CPO\",\"epoch\":1,\"step\":\(i),\"loss\":\(i)}\n" }
        try (step(1) + String(step(2).prefix(20))).write(toFile: path, atomically: false, encoding: .utf8)
        #expect(poll(&f))
        #expect(f.model.snapshot().method(.cpo)?.steps.count == 1 && f.model.pendingBytes == 20)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((String(step(2).dropFirst(20)) + step(3)).utf8))
        try handle.close()
        #expect(poll(&f))
        #expect(f.model.snapshot().method(.cpo)?.steps.map(\.step) == [1, 2, 3])
        #expect(!poll(&f))
        // Replaced by a shorter file (a new run in the same directory): read from the start.
        try step(7).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(poll(&f))
        #expect(f.model.snapshot().method(.cpo)?.steps.map(\.step) == [7])
        // Replaced by a longer file (a new file, same name): read from the start too.
        try (step(8) + step(9) + step(10)).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(poll(&f))
        #expect(f.model.snapshot().method(.cpo)?.steps.map(\.step) == [8, 9, 10])
    }
}
