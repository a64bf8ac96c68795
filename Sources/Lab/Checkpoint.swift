import CausalPO
import CPOSupport
import Foundation
import OutcomeData
import TinyLM

/// Why a run directory could not be created, saved or resumed; every case names the path and
/// what to do.
public enum RunStoreError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(path: String, reason: String)
    case alreadyHoldsARun(path: String)
    /// Another process writes the run (it holds the directory's lock): who, as its lock file
    /// says (nil when it names nobody alive).
    case inUse(path: String, holder: LockHolder?)
    case notARun(path: String)
    case saveFailed(path: String, reason: String)
    case unreadable(path: String, reason: String)
    case damaged(path: String, detail: String)
    case dataChanged(path: String, source: String)
    /// Written by a checkpoint format this build does not read (a newer cpo-tui's).
    case unsupportedFormat(path: String, found: UInt32, readable: ClosedRange<UInt32>)

    public var description: String {
        switch self {
        case let .cannotCreate(path, reason):
            return "cannot use \(path) as the run directory: \(reason). Pass a writable --run-dir, or --no-save."
        case .alreadyHoldsARun(let path):
            return "\(path) already holds a saved run. Continue it with --resume \(path), or pass another --run-dir."
        case let .inUse(path, holder):
            let who = holder.map { "`\($0.shortCommand)` (\($0.summary))" } ?? "another process (its lock file \(RunDirectory.lockPath(path)) does not say which)"
            return "\(path) is in use by \(who): wait for it to finish, or look at it read-only with `cpo-tui runs show \(path)` or `cpo-tui watch \(path)`."
        case .notARun(let path):
            return "\(path) is not a saved run (no \(RunDirectory.configName) in it). Pass the directory a run was saved to (runs/NAME)."
        case let .saveFailed(path, reason):
            return "saving the run to \(path) failed: \(reason). Training goes on and the last complete save is untouched; the next save (after the next epoch, or w in the dashboard) tries again."
        case let .unreadable(path, reason):
            return "\(path): cannot read the saved run (\(reason))."
        case let .damaged(path, detail):
            return "\(path): the saved run is damaged (\(detail)). Use an intact copy of the run directory."
        case let .dataChanged(path, source):
            return "\(path): the data of this run (\(source)) changed after it was saved, so it cannot go on exactly. Restore the original data, or start a new run."
        case let .unsupportedFormat(path, found, readable):
            return "\(path) was saved in checkpoint format \(found), which this version of cpo-tui cannot read (it reads formats \(readable.lowerBound) to \(readable.upperBound)). Continue the run with the cpo-tui that saved it, or start a new run."
        }
    }
}

/// What a checkpoint says about itself (the META section, JSON).
public struct CheckpointInfo: Codable, Sendable, Equatable {
    /// The checkpoint format that wrote the file (`Checkpoint.version` then).
    public var format: Int
    public var config: LabConfig
    public var seed: UInt64
    public var savedAt: String
    /// CRC-32 of the training and held-out rows, to refuse resuming on changed data.
    public var dataFingerprint: UInt32
    /// Epochs trained per method (FT: 0).
    public var epochs: [String: Int]
    /// Samples drawn on request so far (the next request's seed).
    public var generations: Int
}

/// The JSON part of the prepared state: summaries and the fitted ĝ and judge. Generic over how
/// FT's evaluation is stored, so an earlier format's shape reads through the same fields.
struct PreparedSummary<Metrics> {
    var ftHistory: [FTEpoch]
    var ghatQuality: OutcomeModelQuality?
    var ghatQualityVersusOutcomes: OutcomeModelQuality?
    var attributeEffects: [AttributeEffect]
    var traitImbalance: [Double]
    var ftMetrics: Metrics?
    var ghat: CrossFittedOutcomeModel?
    /// The user-data judge of runs saved before `neighborJudge` (a ridge on ĝ's features).
    var judge: OutcomeModel?
    var neighborJudge: NearestNeighborJudge?
    /// The shape of every model of the run, fitted to the data (format 3 on; before, the
    /// configuration's `model`).
    var model: ModelConfig?

    /// The same summary with FT's evaluation converted.
    func converted<Other>(_ convert: (Metrics) -> Other) -> PreparedSummary<Other> {
        PreparedSummary<Other>(ftHistory: ftHistory, ghatQuality: ghatQuality, ghatQualityVersusOutcomes: ghatQualityVersusOutcomes,
                               attributeEffects: attributeEffects, traitImbalance: traitImbalance, ftMetrics: ftMetrics.map(convert),
                               ghat: ghat, judge: judge, neighborJudge: neighborJudge, model: model)
    }
}

extension PreparedSummary: Encodable where Metrics: Encodable {}
extension PreparedSummary: Decodable where Metrics: Decodable {}

struct RestoredMethod {
    var run: MethodRun
    var metrics: [EpochMetrics]
    var steps: [StepRecord]
    var winScores: [Double]?
}

/// Everything `Experiment.init(restoring:)` takes.
struct RestoredExperiment {
    var config: LabConfig
    var seed: UInt64
    var data: PreparedData
    var compute: Compute
    var prep: PreparedSummary<EpochMetrics>
    var ftTrueValue: Double?
    var codec: TextCodec
    var ft: Transformer
    var inputs: TrainingInputs
    var evalInputs: EvalInputs
    var methods: [RestoredMethod]
}

/// One seed's experiment as a single checksummed file (`SectionFile`, kind "CPORUN"):
///
///     META  CheckpointInfo (JSON)          TOKN  the tokenizer
///     FTPM  FT's parameters                PREP  PreparedSummary (JSON), with the models' shape
///     INPT  the training inputs: the rows' token sequences, outcomes, P^R and ĝ, the f0
///           samples with their f0 log-probs and ĝ (`ScoredTexts`), the rows' FT log-probs,
///           the outcomes' SD
///     EVIN  the held-out inputs (`ScoredTexts`), the win-rate prompts with FT's judged
///           continuations, FT's true value
///     MTHD  per method: its counters, metrics and steps (JSON), last epoch's log weights,
///           win scores, parameters, AdamW step and moments, the KL controller's β
///
/// Doubles are stored as bit patterns, so a resumed run computes with exactly the saved values.
/// An evaluation's JSON holds one key per `Estimator` (`metricsKey`); one added after a file
/// was saved reads as undefined for the epochs saved before.
enum Checkpoint {
    static let magic = Array("CPORUN\r\n".utf8)
    /// The format this build writes. Every earlier one is still read (`readableVersions`):
    ///   1  the first format; INPT held filtered-SFT's row selection between ĝ and the outcome
    ///      SD, and the FT log-probs between P^R and ĝ (`CheckpointV1`).
    ///   2  INPT as `ScoredTexts`, then the FT log-probs and the outcome SD; filtered-SFT's rows
    ///      follow from the outcomes and its description (`Objectives.topQuantileSelection`,
    ///      the rule whose result format 1 stored).
    ///   3  PREP also holds the models' shape (`PreparedSummary.model`): the context and
    ///      vocabulary fitted to the data, which the configuration no longer fixes. Earlier
    ///      formats' models have the configuration's shape.
    ///   4  each MTHD section ends with the KL controller's state: a flag and β (the method's
    ///      `klCoefficient`). Formats 1 to 3 predate the KL term: their runs read as "not yet
    ///      started", which is what they were.
    static let version: UInt32 = 4
    static let readableVersions: ClosedRange<UInt32> = 1...version

    static func jsonEncoder() -> JSONEncoder { MetricsJSON.encoder() }

    static func jsonDecoder() -> JSONDecoder { MetricsJSON.decoder() }

    static func json(_ value: some Encodable) -> [UInt8] {
        // Every type here is plain data with non-finite numbers as strings: encoding cannot fail.
        (try? jsonEncoder().encode(value)).map { [UInt8]($0) } ?? Array("null".utf8)
    }

    /// CRC-32 of every training, held-out and validation row's text, outcome and propensity (runs
    /// saved before validation rows existed have none, so their fingerprint is as it was).
    static func fingerprint(_ data: PreparedData) -> UInt32 {
        var w = ByteWriter()
        for r in data.train + data.eval + data.validation {
            w.string(r.text)
            w.double(r.outcome)
            w.double(r.logPropensity ?? .nan)
        }
        return CRC32.checksum(w.bytes)
    }

    // MARK: - writing (the current format)

    /// The checkpoint of `exp`, handed to `emit` piece by piece in file order: each section is
    /// made when its turn comes, so one is in memory at a time, never the whole file (a run's
    /// methods' weights and AdamW moments are most of it). With `methods` false, its prepared
    /// state only (no MTHD sections: what `decode(_:info:data:path:methods:)` reads back without
    /// methods).
    static func encode<E: Error>(_ exp: Experiment, generations: Int, methods: Bool = true,
                                 emit: ([UInt8]) throws(E) -> Void) throws(E) {
        guard let codec = exp.codec, let ft = exp.ft, let inputs = exp.inputs, let ev = exp.evalInputs else {
            preconditionFailure("a checkpoint is taken after preparation")
        }
        let info = CheckpointInfo(
            format: Int(version), config: exp.config, seed: exp.seed, savedAt: ISO8601DateFormatter().string(from: Date()),
            dataFingerprint: fingerprint(exp.data),
            epochs: Dictionary(uniqueKeysWithValues: exp.config.methods.map { ($0.rawValue, exp.epochs(of: $0)) }),
            generations: generations)
        let prep = PreparedSummary(
            ftHistory: exp.ftHistory, ghatQuality: exp.ghatQuality, ghatQualityVersusOutcomes: exp.ghatQualityVersusOutcomes,
            attributeEffects: exp.attributeEffects, traitImbalance: exp.traitImbalance, ftMetrics: exp.ftMetrics,
            ghat: exp.ghatModel, judge: exp.judge?.ridge, neighborJudge: exp.judge?.neighbors, model: exp.modelShape)

        var sections: [(tag: String, bytes: () -> [UInt8])] = [
            ("META", { json(info) }), ("TOKN", { codec.tokenizer.serialized() }),
            ("FTPM", {
                var ftp = ByteWriter()
                ftp.floats(ft.params.pointer, count: ft.parameterCount)
                return ftp.bytes
            }),
            ("PREP", { json(prep) }),
            ("INPT", {
                var inp = ByteWriter()
                inputs.texts.write(to: &inp)
                inp.doubles(inputs.logPFT)
                inp.double(inputs.outcomeSD)
                return inp.bytes
            }),
            ("EVIN", {
                var evi = ByteWriter()
                ev.texts.write(to: &evi)
                evi.sequences(ev.winPrompts)
                evi.doubles(ev.ftWinScores)
                evi.bool(exp.ftTrueValue != nil)
                evi.double(exp.ftTrueValue ?? 0)
                return evi.bytes
            }),
        ]
        for m in methods ? exp.config.methods : [] {
            guard let run = exp.runs[m] else { continue }
            sections.append(("MTHD", { methodSection(exp, run) }))
        }
        try SectionFile.encode(magic: magic, version: version, sectionCount: sections.count,
                               section: { (sections[$0].tag, sections[$0].bytes()) }, emit: emit)
    }

    /// The whole checkpoint in memory (the preparation cache nests a methods-free one).
    static func encode(_ exp: Experiment, generations: Int, methods: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        encode(exp, generations: generations, methods: methods) { (bytes: [UInt8]) in out += bytes }
        return out
    }

    /// One method's MTHD section: its counters, metrics and steps, last epoch's log weights, win
    /// scores, parameters, AdamW state and the KL controller's β.
    private static func methodSection(_ exp: Experiment, _ run: MethodRun) -> [UInt8] {
        let m = run.method, count = run.model.parameterCount
        let counters = json(run.counters), metrics = json(exp.metrics[m] ?? []), steps = json(exp.steps[m] ?? [])
        let optimizer = json(run.optimizer.config)
        var w = ByteWriter(capacity: 3 * count * 4 + counters.count + metrics.count + steps.count + optimizer.count
                           + 8 * run.lastEpochLogWeights.count + 8 * (exp.winScores[m]?.count ?? 0) + 1024)
        w.string(m.rawValue)
        w.blob(counters)
        w.blob(metrics)
        w.blob(steps)
        w.doubles(run.lastEpochLogWeights)
        w.bool(exp.winScores[m] != nil)
        w.doubles(exp.winScores[m] ?? [])
        w.floats(run.model.params.pointer, count: count)
        w.blob(optimizer)
        w.int(run.optimizer.step)
        w.floats(run.optimizer.m.pointer, count: count)
        w.floats(run.optimizer.v.pointer, count: count)
        w.bool(run.klCoefficient != nil)
        w.double(run.klCoefficient ?? 0)
        return w.bytes
    }

    // MARK: - reading (every readable format)

    /// The file's format and sections, after the container's checks (magic, lengths, CRC).
    static func open(_ bytes: [UInt8], path: String) throws(RunStoreError) -> (version: UInt32, sections: [SectionFile.Section]) {
        do {
            return try SectionFile.decode(bytes, magic: magic, versions: readableVersions, path: path)
        } catch {
            switch error {
            case .wrongKind: throw .damaged(path: path, detail: "not a cpo-tui checkpoint")
            case let .unsupportedVersion(_, found, _): throw .unsupportedFormat(path: path, found: found, readable: readableVersions)
            default: throw .damaged(path: path, detail: error.description)
            }
        }
    }

    /// The META section: what the file says about itself, and a configuration this build accepts.
    static func info(_ file: (version: UInt32, sections: [SectionFile.Section]), path: String) throws(RunStoreError) -> CheckpointInfo {
        guard let meta = file.sections.first(where: { $0.tag == "META" }) else { throw .damaged(path: path, detail: "no META section") }
        let info: CheckpointInfo
        do {
            info = try jsonDecoder().decode(CheckpointInfo.self, from: Data(meta.bytes))
            try info.config.validate()
        } catch {
            throw .damaged(path: path, detail: "META: \(error)")
        }
        guard info.format == Int(file.version) else {
            throw .damaged(path: path, detail: "META says format \(info.format), the file header \(file.version)")
        }
        return info
    }

    static func decode(_ bytes: [UInt8], path: String) throws(RunStoreError) -> (RestoredExperiment, CheckpointInfo) {
        let file = try open(bytes, path: path)
        let info = try info(file, path: path)
        return (try decode(file, info: info, data: try restoredData(info, path: path), path: path, methods: true), info)
    }

    /// The experiment an opened checkpoint holds, on `data` (the run's rows, made again from
    /// its configuration, whose fingerprint must be the saved one's). Without `methods` only the
    /// prepared state is read (MTHD sections are ignored) and the experiment has no methods.
    static func decode(_ file: (version: UInt32, sections: [SectionFile.Section]), info: CheckpointInfo, data: PreparedData,
                       path: String, methods readMethods: Bool) throws(RunStoreError) -> RestoredExperiment {
        guard fingerprint(data) == info.dataFingerprint else { throw .dataChanged(path: path, source: data.sourceLabel) }
        var reader = CheckpointReader(version: file.version, sections: file.sections, path: path, config: info.config)
        let tokenizer = try reader.tokenizer()
        let prep = try reader.preparedSummary()
        if let shape = prep.model { reader.shape = try checkedShape(shape, config: info.config, tokenizer: tokenizer, path: path) }
        let ft = try reader.ftModel()
        let inputs = try reader.trainingInputs(ft: ft)
        let (ev, ftTrueValue) = try reader.evalInputs()
        try checkInputs(inputs, ev, shape: reader.shape, data: data, path: path)
        let methods = readMethods ? try reader.methods() : []
        return RestoredExperiment(
            config: info.config, seed: info.seed, data: data, compute: reader.compute, prep: prep, ftTrueValue: ftTrueValue,
            codec: TextCodec(tokenizer: tokenizer, contextLength: reader.shape.contextLength), ft: ft, inputs: inputs,
            evalInputs: ev, methods: methods)
    }

    /// The rows, from the run's own source again (`decode` checks they are the ones it was
    /// saved with).
    private static func restoredData(_ info: CheckpointInfo, path: String) throws(RunStoreError) -> PreparedData {
        do {
            return try PreparedData.make(info.config, seed: info.seed)
        } catch {
            throw .unreadable(path: path, reason: "its data: \(error.description)")
        }
    }

    /// The saved shape, if it is one the configuration could have fitted: the configuration's
    /// but for a context and vocabulary no larger than configured, holding the tokenizer's ids.
    private static func checkedShape(_ shape: ModelConfig, config: LabConfig, tokenizer: BPETokenizer,
                                     path: String) throws(RunStoreError) -> ModelConfig {
        var same = shape
        same.contextLength = config.model.contextLength
        same.vocabSize = config.model.vocabSize
        guard same == config.model, shape.contextLength >= 1, shape.contextLength <= config.model.contextLength,
              shape.vocabSize >= tokenizer.vocabSize, shape.vocabSize <= config.model.vocabSize else {
            throw .damaged(path: path, detail: "PREP: the saved model shape does not fit the run's configuration")
        }
        return shape
    }

    /// Lengths and token ids that training would trust: checked once here, so a damaged file
    /// cannot index out of bounds later.
    private static func checkInputs(_ i: TrainingInputs, _ e: EvalInputs, shape: ModelConfig, data: PreparedData,
                                    path: String) throws(RunStoreError) {
        let vocab = Int32(shape.vocabSize), ctx = shape.contextLength
        func tokensOK(_ s: [[Int32]]) -> Bool { s.allSatisfy { !$0.isEmpty && $0.count <= ctx + 1 && $0.allSatisfy { $0 >= 0 && $0 < vocab } } }
        func aligned(_ t: ScoredTexts, rows: Int) -> Bool {
            t.rowSeqs.count == rows && [t.outcomes.count, t.logPR.count, t.ghat.count].allSatisfy { $0 == rows }
                && t.f0LogP0.count == t.f0Seqs.count && t.f0Ghat.count == t.f0Seqs.count && tokensOK(t.rowSeqs) && tokensOK(t.f0Seqs)
        }
        let ok = aligned(i.texts, rows: data.train.count) && i.logPFT.count == data.train.count && !i.f0Seqs.isEmpty
            && aligned(e.texts, rows: data.eval.count) && e.ftWinScores.count == e.winPrompts.count && tokensOK(e.winPrompts)
        guard ok else { throw .damaged(path: path, detail: "the saved inputs do not fit the run's data and model") }
    }
}

/// The sections of one checkpoint being read, in the format that wrote them: each method reads
/// one part, and any problem is `RunStoreError.damaged` naming the part.
private struct CheckpointReader {
    let version: UInt32
    let sections: [SectionFile.Section]
    let path: String
    let config: LabConfig
    let compute: Compute
    /// The models' shape: the configuration's, or the fitted one PREP holds (format 3 on).
    var shape: ModelConfig
    var layout: ParameterLayout { ParameterLayout(shape) }

    init(version: UInt32, sections: [SectionFile.Section], path: String, config: LabConfig) {
        self.version = version
        self.sections = sections
        self.path = path
        self.config = config
        compute = Compute(threads: config.threads)
        shape = config.model
    }

    func section(_ tag: String) throws(RunStoreError) -> ArraySlice<UInt8> {
        guard let s = sections.first(where: { $0.tag == tag }) else { throw .damaged(path: path, detail: "no \(tag) section") }
        return s.bytes
    }

    func damaged(_ what: String, _ error: Error) -> RunStoreError { .damaged(path: path, detail: "\(what): \(error)") }

    /// Decodes JSON in the shape of this file's format: `V1` for format 1, `Current` after, which
    /// `convert` takes from the first shape to the second.
    func decode<V1: Decodable, Current: Decodable>(_ bytes: ArraySlice<UInt8>, v1: V1.Type, current: Current.Type,
                                                   convert: (V1) -> Current) throws -> Current {
        let dec = Checkpoint.jsonDecoder()
        return version == 1 ? convert(try dec.decode(V1.self, from: Data(bytes))) : try dec.decode(Current.self, from: Data(bytes))
    }

    func tokenizer() throws(RunStoreError) -> BPETokenizer {
        do { return try BPETokenizer(serialized: Array(try section("TOKN"))) } catch { throw damaged("tokenizer", error) }
    }

    func preparedSummary() throws(RunStoreError) -> PreparedSummary<EpochMetrics> {
        do {
            return try decode(try section("PREP"), v1: PreparedSummary<CheckpointV1.EpochMetrics>.self,
                              current: PreparedSummary<EpochMetrics>.self) { $0.converted(\.current) }
        } catch let e as RunStoreError {
            throw e
        } catch {
            throw damaged("PREP", error)
        }
    }

    /// A model's parameters, next in `r`.
    func model(_ r: inout ByteReader, _ what: String) throws(RunStoreError) -> Transformer {
        let params = FloatBuffer(count: layout.count)
        do {
            try r.floats(into: params.pointer, count: layout.count, what)
            return try Transformer(config: shape, parameters: params, compute: compute)
        } catch {
            throw damaged(what, error)
        }
    }

    func ftModel() throws(RunStoreError) -> Transformer {
        var r = ByteReader(try section("FTPM"))
        return try model(&r, "FT parameters")
    }

    func trainingInputs(ft: Transformer) throws(RunStoreError) -> TrainingInputs {
        var r = ByteReader(try section("INPT"))
        do {
            if version == 1 { return try CheckpointV1.trainingInputs(&r, ft: ft, filterQuantile: config.objective.filterQuantile) }
            let texts = try ScoredTexts(reading: &r, "")
            return TrainingInputs(texts: texts, logPFT: try r.doubles("FT log-probs"), outcomeSD: try r.double("outcome SD"), ft: ft)
        } catch {
            throw damaged("inputs", error)
        }
    }

    /// The held-out inputs and FT's true value (worlds).
    func evalInputs() throws(RunStoreError) -> (EvalInputs, ftTrueValue: Double?) {
        var e = ByteReader(try section("EVIN"))
        do {
            let ev = EvalInputs(texts: try ScoredTexts(reading: &e, "held-out "), winPrompts: try e.sequences("win prompts"),
                                ftWinScores: try e.doubles("FT win scores"))
            let has = try e.bool("FT true value flag")
            let v = try e.double("FT true value")
            return (ev, has ? v : nil)
        } catch {
            throw damaged("inputs", error)
        }
    }

    /// Every MTHD section, which must hold exactly the run's methods.
    func methods() throws(RunStoreError) -> [RestoredMethod] {
        var methods: [RestoredMethod] = []
        for s in sections where s.tag == "MTHD" {
            do {
                methods.append(try method(s.bytes))
            } catch let e as RunStoreError {
                throw e
            } catch {
                throw damaged("a method section", error)
            }
        }
        guard Set(methods.map(\.run.method)) == Set(config.methods), methods.count == config.methods.count else {
            throw .damaged(path: path, detail: "it holds methods \(methods.map(\.run.method.rawValue)), the run has \(config.methods.map(\.rawValue))")
        }
        return methods
    }

    private func method(_ bytes: ArraySlice<UInt8>) throws -> RestoredMethod {
        var r = ByteReader(bytes)
        let dec = Checkpoint.jsonDecoder()
        let name = try r.string("method name")
        guard let method = Method(rawValue: name), config.methods.contains(method) else {
            throw ByteReaderError.malformed(what: "method", detail: "'\(name)' is not one of this run's methods")
        }
        let counters = try dec.decode(MethodRun.Counters.self, from: Data(try r.blob("counters")))
        let metrics = try decode(try r.blob("metrics"), v1: [CheckpointV1.EpochMetrics].self, current: [EpochMetrics].self) {
            $0.map(\.current)
        }
        let steps = try dec.decode([StepRecord].self, from: Data(try r.blob("steps")))
        let logWeights = try r.doubles("log weights")
        let hasWin = try r.bool("win scores flag")
        let win = try r.doubles("win scores")
        let m = try model(&r, "\(name) parameters")
        let optConfig = try dec.decode(AdamWConfig.self, from: Data(try r.blob("optimizer settings")))
        let step = try r.int("optimizer step")
        let mom1 = FloatBuffer(count: layout.count), mom2 = FloatBuffer(count: layout.count)
        try r.floats(into: mom1.pointer, count: layout.count, "first moments")
        try r.floats(into: mom2.pointer, count: layout.count, "second moments")
        var klCoefficient: Double?
        if version >= 4 {
            let has = try r.bool("KL controller flag")
            let beta = try r.double("KL coefficient")
            guard !has || (beta.isFinite && beta > 0) else {
                throw ByteReaderError.malformed(what: "KL coefficient", detail: "\(beta) is not a positive number")
            }
            klCoefficient = has ? beta : nil
        }
        guard counters.epoch >= 0, counters.step >= 0, step >= 0, step <= counters.step else {
            throw ByteReaderError.malformed(what: "counters", detail: "inconsistent")
        }
        let run = MethodRun(method: method, model: m, optimizer: AdamW(config: optConfig, m: mom1, v: mom2, step: step),
                            counters: counters, lastEpochLogWeights: logWeights, klCoefficient: klCoefficient)
        return RestoredMethod(run: run, metrics: metrics, steps: steps, winScores: hasWin ? win : nil)
    }
}

extension ScoredTexts {
    /// The columns in order: row sequences, outcomes, P^R, ĝ; f0 sequences, f0 log-probs, ĝ.
    func write(to w: inout ByteWriter) {
        w.sequences(rowSeqs)
        w.doubles(outcomes)
        w.doubles(logPR)
        w.doubles(ghat)
        w.sequences(f0Seqs)
        w.doubles(f0LogP0)
        w.doubles(f0Ghat)
    }

    /// What `write` wrote; `prefix` names the set in errors ("held-out ").
    init(reading r: inout ByteReader, _ prefix: String) throws(ByteReaderError) {
        self.init(rowSeqs: try r.sequences(prefix + "rows"), outcomes: try r.doubles(prefix + "outcomes"),
                  logPR: try r.doubles(prefix + "P^R"), ghat: try r.doubles(prefix + "ĝ"), f0Seqs: try r.sequences(prefix + "f0 samples"),
                  f0LogP0: try r.doubles(prefix + "f0 log-probs"), f0Ghat: try r.doubles(prefix + "f0 ĝ"))
    }
}

/// Checkpoint format 1, read only to convert it to the current one. The sections that differ
/// are decoded in their own shape here, so a later change of the current types cannot change
/// how a format-1 file reads.
enum CheckpointV1 {
    /// An evaluation as format 1 stored it (JSON): the estimates as named fields.
    struct EpochMetrics: Decodable {
        var method: Method
        var epoch: Int
        var trainLoss: Double?
        var vIPW, vSNIPW, vDR, vOUT, drResidual: Estimate
        var trueValue: Estimate?
        var normalizedGain, invalidRate: Double?
        var attributeShares: [String: Double]?
        var winRateVsFT, klToFT: Estimate
        var weights: WeightSummary
        var samples: [GeneratedText]
        var seconds: Double

        var current: Lab.EpochMetrics {
            Lab.EpochMetrics(
                method: method, epoch: epoch, trainLoss: trainLoss,
                estimates: Estimates([.ipw: vIPW, .snipw: vSNIPW, .dr: vDR, .out: vOUT, .drResidual: drResidual]),
                trueValue: trueValue, normalizedGain: normalizedGain, invalidRate: invalidRate, attributeShares: attributeShares,
                winRateVsFT: winRateVsFT, klToFT: klToFT, weights: weights, samples: samples, seconds: seconds)
        }
    }

    /// Format 1's INPT section: rows, outcomes, P^R, FT log-probs, ĝ, filtered-SFT's selection,
    /// outcome SD, f0 samples, f0 log-probs, f0 ĝ. The selection is dropped after checking that
    /// the rule now applied to the outcomes gives exactly it (format 2 stores the rule, not the
    /// result).
    static func trainingInputs(_ r: inout ByteReader, ft: Transformer, filterQuantile: Double) throws -> TrainingInputs {
        let rowSeqs = try r.sequences("rows"), outcomes = try r.doubles("outcomes"), logPR = try r.doubles("P^R")
        let logPFT = try r.doubles("FT log-probs"), ghat = try r.doubles("ĝ")
        let selected = try r.bools("selection")
        let outcomeSD = try r.double("outcome SD")
        let texts = ScoredTexts(rowSeqs: rowSeqs, outcomes: outcomes, logPR: logPR, ghat: ghat, f0Seqs: try r.sequences("f0 samples"),
                                f0LogP0: try r.doubles("f0 log-probs"), f0Ghat: try r.doubles("f0 ĝ"))
        guard selected == Objectives.topQuantileSelection(outcomes: outcomes, quantile: filterQuantile) else {
            throw ByteReaderError.malformed(what: "filtered-SFT selection", detail: "it is not the top \(filterQuantile) of the saved outcomes")
        }
        return TrainingInputs(texts: texts, logPFT: logPFT, outcomeSD: outcomeSD, ft: ft)
    }
}

/// A run directory (`runs/NAME/`): `config.json` (the run's configuration, readable), one
/// `checkpoint-seedS.cpo` per seed (everything needed to go on: tokenizer, FT, ĝ, f0 samples,
/// every method's weights, optimizer state and counters, metrics), and `metrics.jsonl`. Every
/// file is written atomically (temporary file, fsync, rename) and checksummed, so an
/// interruption at any moment leaves the previous complete save, and a reader at any moment
/// sees complete files.
///
/// One process writes a run: `create` and `openForWriting` take the directory's lock (`.lock`,
/// `RunDirectoryLease`) for as long as the value (or a copy) lives, and refuse a directory
/// another process holds, naming it. `open` only reads and takes no lock.
public struct RunDirectory: Sendable {
    public static let configName = "config.json"
    public let path: String
    /// This process's hold on the directory's lock (nil: opened to read, or not lockable).
    let lease: RunDirectoryLease?
    /// Why a directory opened for writing is not locked (its file system cannot lock), for the
    /// user to hear; nil when it is locked or only read.
    public let lockWarning: String?

    init(path: String, lease: RunDirectoryLease? = nil, lockWarning: String? = nil) {
        self.path = path
        self.lease = lease
        self.lockWarning = lockWarning
    }

    public func checkpointPath(seed: UInt64) -> String { path + "/checkpoint-seed\(seed).cpo" }
    public var configPath: String { path + "/" + Self.configName }
    public var metricsPath: String { path + "/metrics.jsonl" }

    /// A new run directory for `config` (created with its parents), locked for this process.
    /// Refuses a directory another process writes (`.inUse`), or that already holds a saved run
    /// (one with a checkpoint; a run that stopped before its first save is started afresh), and
    /// proves it is writable by writing config.json, before any work.
    public static func create(_ path: String, config: LabConfig) throws(RunStoreError) -> RunDirectory {
        do { try OutputDirectory.make(path) } catch { throw .cannotCreate(path: path, reason: error.reason) }
        let (lease, warning) = try lockForWriting(path)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        if names.contains(where: { $0.hasPrefix("checkpoint-seed") && $0.hasSuffix(".cpo") }) { throw .alreadyHoldsARun(path: path) }
        let dir = RunDirectory(path: path, lease: lease, lockWarning: warning)
        try dir.writeConfig(config)
        return dir
    }

    /// An existing run directory and its configuration, locked for this process to continue
    /// the run; refused (`.inUse`) while another process writes it.
    public static func openForWriting(_ path: String) throws(RunStoreError) -> (RunDirectory, LabConfig) {
        // Not a run: said as such, and no lock file is left in a directory that is not one.
        guard FileManager.default.fileExists(atPath: path + "/" + configName) else { throw .notARun(path: path) }
        let (lease, warning) = try lockForWriting(path)
        let (dir, config) = try open(path)
        return (RunDirectory(path: dir.path, lease: lease, lockWarning: warning), config)
    }

    /// An existing run directory and its configuration, to read (no lock is taken: a run another
    /// process writes reads as of its last save).
    public static func open(_ path: String) throws(RunStoreError) -> (RunDirectory, LabConfig) {
        let dir = RunDirectory(path: path)
        guard FileManager.default.fileExists(atPath: dir.configPath) else { throw .notARun(path: path) }
        let bytes = try read(dir.configPath, maxBytes: 1 << 20)
        do {
            let cfg = try Checkpoint.jsonDecoder().decode(LabConfig.self, from: Data(bytes))
            try cfg.validate()
            return (dir, cfg)
        } catch {
            throw .damaged(path: dir.configPath, detail: "\(error)")
        }
    }

    public func writeConfig(_ config: LabConfig) throws(RunStoreError) {
        let enc = Checkpoint.jsonEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? enc.encode(config) else { throw .saveFailed(path: configPath, reason: "cannot encode the configuration") }
        do { try AtomicFile.write([UInt8](data), to: configPath) } catch {
            throw .cannotCreate(path: path, reason: "writing \(error.path) failed: \(error.reason)")
        }
    }

    /// Removes `.tmp-PID-*` files that an interrupted save left behind (only those whose
    /// process is gone, so a save under way elsewhere is never touched).
    public func removeStaleTemporaryFiles() { AtomicFile.removeStaleTemporaryFiles(in: path) }

    public func hasCheckpoint(seed: UInt64) -> Bool { FileManager.default.fileExists(atPath: checkpointPath(seed: seed)) }

    /// Saves `experiment` (prepared) as its seed's checkpoint, a section at a time, and with
    /// `metrics` metrics.jsonl for those seeds' results (the same lines as a report's); returns the
    /// checkpoint's bytes. Both files are written in full before either replaces its old
    /// version, so a save that fails (a full disk) leaves the last complete save as it was.
    @discardableResult
    public func save(_ experiment: Experiment, generations: Int = 0, metrics: [SeedResult]? = nil) throws(RunStoreError) -> Int {
        var written = 0
        let files = AtomicFile.Batch()
        do {
            try files.add(to: checkpointPath(seed: experiment.seed)) { emit throws(FileWriteError) in
                try Checkpoint.encode(experiment, generations: generations) { bytes throws(FileWriteError) in
                    written += bytes.count
                    try emit(bytes)
                }
            }
            if let metrics {
                try files.add(Array(ReportWriter(config: experiment.config, data: experiment.data, results: metrics).metricsJSONL().utf8),
                              to: metricsPath)
            }
            try files.commit()
        } catch {
            throw .saveFailed(path: error.path, reason: error.reason)
        }
        return written
    }

    /// What the seed's checkpoint says about itself, without restoring it.
    public func info(seed: UInt64) throws(RunStoreError) -> CheckpointInfo {
        let p = checkpointPath(seed: seed)
        return try Checkpoint.info(Checkpoint.open(try read(p), path: p), path: p)
    }

    /// The seed's experiment as it was saved, ready to train on, and what the checkpoint says
    /// about itself (the session's generation count among it). `config` (the run's config.json, as the caller uses it) must be the one inside
    /// the checksummed checkpoint, but for the number of epochs, which it sets.
    public func restore(seed: UInt64, config: LabConfig) throws(RunStoreError) -> (Experiment, info: CheckpointInfo) {
        let p = checkpointPath(seed: seed)
        var (restored, info) = try Checkpoint.decode(try read(p), path: p)
        var saved = info.config, given = config
        saved.epochs = 0
        given.epochs = 0
        guard saved == given else {
            throw .damaged(path: configPath, detail: "it does not match the configuration inside \((p as NSString).lastPathComponent) (was it edited?); restore it or start a new run")
        }
        restored.config.epochs = config.epochs
        return (Experiment(restoring: restored), info)
    }

    private func read(_ p: String) throws(RunStoreError) -> [UInt8] { try Self.read(p, maxBytes: 1 << 34) }

    /// A whole file, refused before reading when it is larger than `maxBytes`.
    private static func read(_ p: String, maxBytes: Int) throws(RunStoreError) -> [UInt8] {
        do { return try BoundedFile.read(path: p, maxBytes: maxBytes) } catch {
            throw .unreadable(path: p, reason: error.description)
        }
    }

    /// `runs/<source>-seed<S>-<yyyyMMdd-HHmmss>`, never an existing directory.
    public static func defaultPath(for config: LabConfig, under root: String = "runs", now: Date = Date()) -> String {
        let source: String
        switch config.source {
        case .world(let w): source = ((w as NSString).lastPathComponent as NSString).deletingPathExtension
        case .file(let p, _): source = ((p as NSString).lastPathComponent as NSString).deletingPathExtension
        }
        // Names from input never become paths unchecked: keep letters, digits, '-', '_' and '.'.
        let safe = String(source.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0) ? Character($0) : "_" })
            .trimmingCharacters(in: CharacterSet(charactersIn: "."))
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyyMMdd-HHmmss"
        let base = root + "/" + (safe.isEmpty ? "run" : String(safe.prefix(64))) + "-seed\(config.seed)-" + f.string(from: now)
        var candidate = base
        var k = 2
        while FileManager.default.fileExists(atPath: candidate) {
            candidate = base + "-\(k)"
            k += 1
        }
        return candidate
    }
}
