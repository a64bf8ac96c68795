import CausalPO
import Foundation
import OutcomeData
import Testing
import TinyLM
@testable import Lab

/// A data row of a megabyte, full of control characters, bidirectional controls, combining
/// marks and wide characters, loads, is tokenized in time linear in its length (the
/// pre-tokenizer cuts text into chunks of at most 64 bytes), and trains as what the model
/// reads: at most its context of tokens.
@Suite("a megabyte data row")
struct LongRowTests {
    static let words = ["the", "river", "clean", "\u{1B}[2J", "日本語", "e\u{301}\u{301}\u{301}", "\u{202E}rev", "😀👨‍👩‍👧",
                        "\u{0}", "wide", "\u{200B}", "help", "today", "\r", "neighbors"]

    /// About `bytes` bytes of words, deterministic in `seed`.
    static func text(bytes: Int, seed: Int) -> String {
        var out = "", k = seed
        while out.utf8.count < bytes {
            k = (k &* 1_103_515_245 &+ 12_345) & 0x7FFF_FFFF
            out += words[k % words.count] + " "
        }
        return out
    }

    /// A CSV file of 80 rows (text, outcome), row 5 a megabyte long.
    static func writeData() throws -> String {
        var csv = CSVWriter(header: ["text", "outcome"])
        for i in 0..<80 {
            let t = i == 5 ? text(bytes: 1 << 20, seed: i) : text(bytes: 40 + i % 30, seed: i)
            csv.writeRecord([t, CSVWriter.format(Double(t.utf8.count % 17) + Double(i % 3))])
        }
        let path = NSTemporaryDirectory() + "cpo-tui-long-row-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).csv"
        try Data(csv.bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func itLoadsAndTokenizesWithinTheContext() throws {
        let path = try Self.writeData()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let ds = try DatasetLoader.load(path: path)
        #expect(ds.rows.count == 80)
        let long = try #require(ds.rows.map(\.text).max { $0.utf8.count < $1.utf8.count })
        #expect(long.utf8.count >= 1 << 20 && long.contains("\u{1B}[2J"), "the row is kept as it was")

        let tokenizer = try BPETokenizer.train(corpus: ds.rows.map(\.text), vocabSize: 400)
        let tokens = tokenizer.encode(long)
        #expect(tokenizer.decode(tokens) == long, "the tokenizer loses nothing")
        let codec = TextCodec(tokenizer: tokenizer, contextLength: 48)
        let sequence = codec.sequence(for: long)
        #expect(sequence.count == 49 && sequence.first == BPETokenizer.bos && sequence.last != BPETokenizer.eos)
        #expect(codec.prompt(for: long).count == 48)
    }

    /// The whole preparation and an epoch on the file: the context is the cap, the long row
    /// is counted as cut, and the methods train.
    @Test func aRunPreparesAndTrainsOnIt() throws {
        let path = try Self.writeData()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var cfg = tinyConfig(methods: [.ft, .cpo])
        cfg.source = .file(path: path, options: LoadOptions())
        let exp = try Experiment(config: cfg, seed: cfg.seed)
        try exp.prepare()
        let fit = try #require(exp.fit)
        #expect(exp.modelShape.contextLength <= cfg.model.contextLength)
        if exp.data.train.contains(where: { $0.text.utf8.count >= 1 << 20 }) {
            #expect(exp.modelShape.contextLength == cfg.model.contextLength, "fitted to the longest text, so the cap")
            #expect(fit.longestTrainingTokens > 10_000)
        }
        #expect(fit.cuts.map(\.cut).reduce(0, +) >= 1, "the megabyte row is counted as cut: \(fit.summary)")
        let metrics = try #require(exp.step(.cpo))
        #expect(metrics.epoch == 1 && metrics.estimates[.dr].value.isFinite)
    }
}
