import CPOSupport
import Foundation
import Testing
@testable import TinyLM

@Suite("AdamW and end-to-end training")
struct TrainingTests {
    @Test func scheduleWarmsUpThenDecays() {
        let c = AdamWConfig(learningRate: 1e-2, warmupSteps: 10, totalSteps: 110, minLRFraction: 0.1)
        #expect(abs(c.learningRate(at: 0) - 1e-3) < 1e-9)
        #expect(abs(c.learningRate(at: 9) - 1e-2) < 1e-9)
        #expect(abs(c.learningRate(at: 10) - 1e-2) < 1e-9)
        #expect(abs(c.learningRate(at: 60) - 0.55e-2) < 1e-6)   // halfway down the cosine
        #expect(abs(c.learningRate(at: 110) - 1e-3) < 1e-9)
        #expect(abs(c.learningRate(at: 500) - 1e-3) < 1e-9)
        #expect(AdamWConfig(learningRate: 0.5).learningRate(at: 1000) == 0.5)
    }

    @Test func clippingEqualsPrescaledGradients() {
        let cfg = ModelConfig(vocabSize: 260, contextLength: 4, dModel: 8, heads: 2, layers: 1)
        let a = try! Transformer(config: cfg, seed: 1), b = try! Transformer(config: cfg, seed: 1)
        let g = randomFloats(a.parameterCount, seed: 2)
        let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        for i in 0..<g.count { a.grads[i] = g[i]; b.grads[i] = Float(Double(g[i]) * 0.5 / norm) }
        let ra = AdamW(config: AdamWConfig(gradClip: 0.5), parameterCount: a.parameterCount).update(a)
        let rb = AdamW(config: AdamWConfig(gradClip: 0), parameterCount: b.parameterCount).update(b)
        #expect(ra.clipped && !rb.clipped)
        #expect(abs(ra.gradNorm - norm) < 1e-3 * norm)
        for i in 0..<a.parameterCount { #expect(abs(a.params[i] - b.params[i]) < 1e-6) }
    }

    @Test func nonFiniteGradientSkipsTheStep() {
        let cfg = ModelConfig(vocabSize: 260, contextLength: 4, dModel: 8, heads: 2, layers: 1)
        let m = try! Transformer(config: cfg, seed: 1)
        let before = m.params.array
        m.grads[17] = .nan
        let opt = AdamW(config: AdamWConfig(), parameterCount: m.parameterCount)
        let r = opt.update(m)
        #expect(r.skipped)
        #expect(m.params.array == before)
        #expect(opt.step == 0)
    }

    @Test func weightDecayOnlyTouchesMatrices() {
        let cfg = ModelConfig(vocabSize: 260, contextLength: 4, dModel: 8, heads: 2, layers: 1)
        let m = try! Transformer(config: cfg, seed: 1)
        for i in 0..<m.parameterCount { m.params[i] = 1 }
        m.zeroGrad()
        AdamW(config: AdamWConfig(learningRate: 0.1, weightDecay: 0.5), parameterCount: m.parameterCount).update(m)
        for (name, range) in m.layout.tensors {
            let decayed = !(name.hasSuffix(".b") || name.contains("ln"))
            for i in range { #expect(m.params[i] == (decayed ? 0.95 : 1), "\(name)") }
        }
    }

    /// Same seed, same run: training twice gives bit-identical parameters.
    @Test func trainingIsDeterministic() throws {
        let cfg = ModelConfig(vocabSize: 270, contextLength: 10, dModel: 16, heads: 2, layers: 2)
        let seqs = randomSequences(count: 6, lengths: 3...11, vocab: 270, seed: 3)
        func run() throws -> [Float] {
            let m = try Transformer(config: cfg, seed: 11, compute: Compute(threads: 2))
            let opt = AdamW(config: AdamWConfig(learningRate: 1e-2), parameterCount: m.parameterCount)
            for _ in 0..<5 {
                m.zeroGrad()
                m.nextTokenLoss(seqs, backward: true)
                opt.update(m)
            }
            return m.params.array
        }
        let a = try run(), b = try run()
        #expect(a == b)
        let other = try Transformer(config: cfg, seed: 12).params.array
        #expect(other != (try Transformer(config: cfg, seed: 11).params.array))
    }

    /// A small model trained on a toy corpus memorizes it: its loss goes near zero and,
    /// prompted with the first tokens of each line, it regenerates the rest of that line.
    @Test func memorizesAToyCorpus() throws {
        let lines = [
            "the library opens at nine on saturdays.",
            "a small model can learn a few lines by heart.",
            "causal effects hide behind correlations.",
            "every seed gives the same run, twice.",
            "readers who saw the long version gave more.",
            "zebras do not vote in village elections!",
        ]
        let tokenizer = try BPETokenizer.train(corpus: lines, vocabSize: 300)
        let codec = TextCodec(tokenizer: tokenizer, contextLength: 48)
        let seqs = lines.map { codec.sequence(for: $0) }
        let cfg = ModelConfig(vocabSize: 300, contextLength: 48, dModel: 32, heads: 2, layers: 2)
        let model = try Transformer(config: cfg, seed: 7, compute: Compute(threads: 2))
        let opt = AdamW(config: AdamWConfig(learningRate: 1e-2, weightDecay: 0, warmupSteps: 10, totalSteps: 250),
                        parameterCount: model.parameterCount)
        let first = model.nextTokenLoss(seqs)
        var loss = first
        for _ in 0..<250 {
            model.zeroGrad()
            loss = model.nextTokenLoss(seqs, backward: true)
            opt.update(model)
        }
        loss = model.nextTokenLoss(seqs)
        // The first token of a line cannot be predicted (six equally likely lines): the best
        // possible mean loss is 6·log 6 over the corpus's token count.
        let floor = 6 * log(6.0) / Double(seqs.reduce(0) { $0 + $1.count - 1 })
        #expect(first > 4)
        #expect(loss < floor + 0.02, "final loss \(loss), floor \(floor)")
        let prompts = seqs.map { Array($0.prefix(4)) }
        let samples = model.sample(prompts: prompts, options: SamplingOptions(temperature: 0, maxNewTokens: 48), seed: 1)
        for (line, s) in zip(lines, samples) {
            #expect(s.finished)
            #expect(codec.text(s.sequence) == line)
        }
        // Text-level sampling: a typed prefix continues the line it starts.
        let texts = model.sampleTexts(prefixes: ["zebras do", ""], codec: codec,
                                      options: SamplingOptions(temperature: 0, maxNewTokens: 48), seed: 1)
        #expect(texts[0].prompt + texts[0].completion == lines[5])
        #expect(lines.contains(texts[1].completion))
        // From BOS alone, greedy decoding writes one of the lines.
        let free = model.sample(prompts: [[BPETokenizer.bos]], options: SamplingOptions(temperature: 0, maxNewTokens: 48), seed: 1)[0]
        #expect(lines.contains(codec.text(free.sequence)))
    }
}

@Suite("weight files")
struct WeightFileTests {
    func fixture() throws -> (Transformer, BPETokenizer) {
        let tok = try BPETokenizer.train(corpus: ["abc abd abe", "hello world", "abc hello"], vocabSize: 270)
        let model = try Transformer(config: ModelConfig(vocabSize: 270, contextLength: 8, dModel: 8, heads: 2, layers: 1, tiedHead: false), seed: 3)
        return (model, tok)
    }

    func tempPath(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "cpo-tui-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }

    @Test func roundTrip() throws {
        let (model, tok) = try fixture()
        let path = tempPath("model.cpow")
        try WeightFile.save(model: model, tokenizer: tok, metadata: ["method": "FT", "epoch": "3"], to: path)
        let loaded = try WeightFile.load(path: path)
        #expect(loaded.config == model.config)
        #expect(loaded.tokenizer == tok)
        #expect(loaded.metadata == ["method": "FT", "epoch": "3"])
        #expect(loaded.parameters.array == model.params.array)
        let again = try Transformer(config: loaded.config, parameters: loaded.parameters)
        let seqs: [[Int32]] = [[256, 97, 98, 257], [256, 104, 257]]
        #expect(again.forward(seqs).logProbs == model.forward(seqs).logProbs)
        // No temporary files left behind by the atomic write (of this file: other tests of the
        // suite write beside it at the same time).
        let dir = (path as NSString).deletingLastPathComponent
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".tmp-") && $0.hasSuffix("-model.cpow") }
        #expect(leftovers.isEmpty)
    }

    @Test func truncatedFilesAreRefused() throws {
        let (model, tok) = try fixture()
        let bytes = WeightFile.encode(model: model, tokenizer: tok)
        var rng = SeededRandom(seed: 5)
        var cuts = [0, 1, 7, 8, 11, 12, 15, 16, bytes.count - 4, bytes.count - 1]
        for _ in 0..<40 { cuts.append(rng.int(below: bytes.count)) }
        for cut in cuts {
            #expect(throws: WeightFileError.self) { try WeightFile.decode(Array(bytes.prefix(cut))) }
        }
        do {
            _ = try WeightFile.decode(Array(bytes.prefix(bytes.count / 2)))
            Issue.record("a half file loaded")
        } catch {
            guard case .truncated = error else { Issue.record("expected .truncated, got \(error)"); return }
            #expect(error.description.contains("truncated"))
        }
    }

    @Test func corruptedFilesAreRefused() throws {
        let (model, tok) = try fixture()
        let bytes = WeightFile.encode(model: model, tokenizer: tok)
        var rng = SeededRandom(seed: 6)
        for _ in 0..<60 {
            var b = bytes
            let i = rng.int(below: b.count)
            b[i] ^= UInt8(1 + rng.int(below: 255))
            #expect(throws: WeightFileError.self) { try WeightFile.decode(b) }
        }
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x10
        #expect {
            try WeightFile.decode(flipped)
        } throws: { error in
            guard let e = error as? WeightFileError, case .checksumMismatch = e else { return false }
            return e.description.contains("corrupted")
        }
        #expect(throws: WeightFileError.notAWeightFile(path: "<memory>")) { try WeightFile.decode(Array("hello world, not weights".utf8)) }
        #expect(throws: WeightFileError.self) { try WeightFile.load(path: "/nonexistent/model.cpow") }
    }

    /// A file from a newer format says which format made it and that this build cannot read it.
    @Test func aNewerFormatIsNamed() throws {
        let (model, tok) = try fixture()
        let bytes = WeightFile.encode(model: model, tokenizer: tok)
        let sections = try SectionFile.decode(bytes, magic: WeightFile.magic, versions: WeightFile.readableVersions, path: "t").sections
        let newer = SectionFile.encode(magic: WeightFile.magic, version: 99, sections: sections.map { ($0.tag, Array($0.bytes)) })
        #expect {
            try WeightFile.decode(newer)
        } throws: { error in
            guard let e = error as? WeightFileError, e == .unsupportedVersion(path: "<memory>", found: 99, supported: WeightFile.version) else { return false }
            return e.description.contains("version 99") && e.description.contains("not supported")
        }
    }

    /// A weight file larger than the limit is refused from its size: the 4 GiB file here is
    /// sparse, so reading it would allocate 4 GB; the check must come first.
    @Test func oversizedWeightFilesAreRefusedBeforeReading() throws {
        let (model, tok) = try fixture()
        let path = tempPath("limit-\(UUID().uuidString).cpow")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WeightFile.save(model: model, tokenizer: tok, to: path)
        let size = WeightFile.encode(model: model, tokenizer: tok).count
        #expect(throws: WeightFileError.tooLarge(path: path, size: size, limit: 100)) {
            try WeightFile.load(path: path, maxBytes: 100)
        }
        #expect(try WeightFile.load(path: path, maxBytes: size).config == model.config)
        let fd = open(path, O_WRONLY)
        defer { close(fd) }
        guard fd >= 0, ftruncate(fd, off_t(WeightFile.defaultMaxBytes + 1)) == 0 else { return }
        do {
            _ = try WeightFile.load(path: path)
            Issue.record("a 4 GB weight file was read")
        } catch {
            #expect(error == .tooLarge(path: path, size: WeightFile.defaultMaxBytes + 1, limit: WeightFile.defaultMaxBytes))
            #expect(error.description.contains("4.1 GB, more than the limit of 4 GB"))
        }
    }

    /// Found by the weight-file fuzz test (case 12,445 of a 200,000-case run, seed
    /// weights:2423143451920411603): a configuration whose MLP ratio is huge passed
    /// `ModelConfig.validate`, and the parameter layout then overflowed `Int` (a trap) while
    /// sizing the model. It is now a malformed-file error.
    @Test func hugeMLPRatioIsMalformedNotACrash() throws {
        let (model, tok) = try fixture()
        let bytes = WeightFile.encode(model: model, tokenizer: tok)
        // The CONF section comes first: tag at 16, u64 length at 20, JSON from 28.
        var length = 0
        for k in (0..<8).reversed() { length = length << 8 | Int(bytes[20 + k]) }
        var json = String(decoding: bytes[28..<(28 + length)], as: UTF8.self)
        #expect(json.contains("\"mlpRatio\":4"))
        json = json.replacingOccurrences(of: "\"mlpRatio\":4", with: "\"mlpRatio\":9223372036854775807")
        var out = Array(bytes[0..<20])
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { out.append(contentsOf: $0) }
        out += Array(json.utf8)
        out += bytes[(28 + length)..<(bytes.count - 4)]
        withUnsafeBytes(of: CRC32.checksum(out).littleEndian) { out.append(contentsOf: $0) }
        #expect {
            try WeightFile.decode(out)
        } throws: { error in
            guard let e = error as? WeightFileError, case .malformed(_, let detail) = e else { return false }
            return detail.contains("unreasonably large")
        }
        var c = model.config
        c.mlpRatio = 1 << 40
        #expect(throws: ModelConfigError.self) { try c.validate() }
    }
}
