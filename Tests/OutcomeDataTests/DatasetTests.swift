import Foundation
import Testing
@testable import OutcomeData

/// Test fixtures: files written into a fresh temporary directory at test time.
private enum Fixture {
    static func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("cpo-outcomedata-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes `bytes` to a new temporary file called `name` and returns its path.
    static func file(_ bytes: [UInt8], name: String = "data.csv") throws -> String {
        let url = try directory().appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    static func file(_ text: String, name: String = "data.csv") throws -> String {
        try file(Array(text.utf8), name: name)
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
    }
}

/// Writes `text` to a temporary file, loads it and removes it.
private func loadText(_ text: String, name: String = "data.csv", _ options: LoadOptions = LoadOptions()) throws -> OutcomeDataset {
    try loadBytes(Array(text.utf8), name: name, options)
}

private func loadBytes(_ bytes: [UInt8], name: String = "data.csv", _ options: LoadOptions = LoadOptions()) throws -> OutcomeDataset {
    let path = try Fixture.file(bytes, name: name)
    defer { Fixture.remove(path) }
    return try DatasetLoader.load(path: path, options: options)
}

/// The InputError loading `text` throws; records an issue and returns nil when it loads.
private func loadError(_ text: String, name: String = "data.csv", _ options: LoadOptions = LoadOptions(),
               sourceLocation: SourceLocation = #_sourceLocation) -> InputError? {
    loadError(bytes: Array(text.utf8), name: name, options, sourceLocation: sourceLocation)
}

private func loadError(bytes: [UInt8], name: String = "data.csv", _ options: LoadOptions = LoadOptions(),
               sourceLocation: SourceLocation = #_sourceLocation) -> InputError? {
    do {
        let d = try loadBytes(bytes, name: name, options)
        Issue.record("expected an error, but \(d.rows.count) rows loaded", sourceLocation: sourceLocation)
        return nil
    } catch let e as InputError {
        return e
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

private func options(_ columns: DatasetColumns = DatasetColumns(), kind: OutcomeKind? = nil,
             higherIsBetter: Bool = true, maxBad: Double = 0.01) -> LoadOptions {
    LoadOptions(columns: columns, higherIsBetter: higherIsBetter, outcomeKind: kind, maxBadFraction: maxBad)
}

/// A CSV of `n` good rows `text,outcome` with outcomes 0.5, 1.5, ...
private func goodCSV(_ n: Int) -> String {
    var s = "text,outcome\n"
    for i in 0..<n { s += "row \(i),\(Double(i) + 0.5)\n" }
    return s
}

@Suite("dataset loading")
struct DatasetLoadingTests {
    @Test func loadsTextAndOutcomeByName() throws {
        let path = try Fixture.file("id,outcome,notes,text\n1,2.5,x,\"Hello, world\"\n2,-1,y,Second\n")
        defer { Fixture.remove(path) }
        let d = try DatasetLoader.load(path: path, options: LoadOptions())
        #expect(d.source == "csv:\(path)")
        #expect(d.rows.map(\.text) == ["Hello, world", "Second"])
        #expect(d.rows.map(\.outcome) == [2.5, -1])
        #expect(d.rows.map(\.line) == [2, 3])
        #expect(d.totalRecords == 2)
        #expect(d.badRowCount == 0)
        #expect(d.firstBadRows.isEmpty)
        #expect(d.outcomeKind == .continuous)
        #expect(d.rows[0].logPropensity == nil && d.rows[0].trait == nil && d.rows[0].split == nil)
    }

    @Test func customColumnNames() throws {
        let cols = DatasetColumns(text: "headline", outcome: "clicks")
        let d = try loadText("clicks,headline\n3,Big news\n4,Small news\n", options(cols))
        #expect(d.texts == ["Big news", "Small news"])
        #expect(d.outcomes == [3, 4])
        #expect(d.columns == cols)
    }

    @Test func textIsKeptVerbatim() throws {
        let d = try loadText("text,outcome\n\"  padded, \"\"quoted\"\"\nsecond line  \",1\n")
        #expect(d.rows[0].text == "  padded, \"quoted\"\nsecond line  ")
    }

    @Test func crlfBomAndNoTrailingNewline() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("text,outcome\r\n\"a\r\nb\",1\r\nc,2".utf8)
        let d = try loadBytes(bytes)
        #expect(d.texts == ["a\r\nb", "c"])
        #expect(d.rows.map(\.line) == [2, 4])
    }

    @Test func tsvByExtension() throws {
        let d = try loadText("text\toutcome\nhello, there\t1.5\n", name: "data.tsv")
        #expect(d.source.hasPrefix("tsv:"))
        #expect(d.texts == ["hello, there"])
        #expect(d.outcomes == [1.5])
    }

    @Test(arguments: [
        ("1e3", 1000.0), (" 2.5 ", 2.5), ("\t-0.5", -0.5), ("+2", 2.0), ("-0", 0.0), (".5", 0.5), ("7", 7.0),
    ])
    func numbersAreParsedLeniently(_ raw: String, _ value: Double) throws {
        let d = try loadText("text,outcome\na,\(raw)\nb,0.25\n")
        #expect(d.outcomes == [value, 0.25])
    }

    @Test func formatFromExtension() {
        #expect(DatasetFormat.fromExtension(of: "a/b.CSV") == .csv)
        #expect(DatasetFormat.fromExtension(of: "x.tsv") == .tsv)
        #expect(DatasetFormat.fromExtension(of: "x.jsonl") == .jsonl)
        #expect(DatasetFormat.fromExtension(of: "x.ndjson") == .jsonl)
        #expect(DatasetFormat.fromExtension(of: "x.json") == nil)
        #expect(DatasetFormat.fromExtension(of: "noext") == nil)
    }

    @Test func explicitFormatOverridesTheExtension() throws {
        var o = LoadOptions()
        o.format = .jsonl
        let d = try loadText("{\"text\": \"a\", \"outcome\": 1.5}\n", name: "data.txt", o)
        #expect(d.texts == ["a"])
        #expect(d.source.hasPrefix("jsonl:"))
    }

    @Test func inMemoryLoadAndDatasetInit() throws {
        let d = try DatasetLoader.load(bytes: Array("text,outcome\nx,1\ny,0\n".utf8), file: "mem.csv", format: .csv)
        #expect(d.outcomeKind == .binary)
        #expect(d.source == "csv:mem.csv")
        let built = OutcomeDataset(source: "world:test", outcomeKind: .continuous,
                                   rows: [OutcomeRow(text: "a", outcome: 1), OutcomeRow(text: "b", outcome: 2)])
        #expect(built.totalRecords == 2)
        #expect(built.badRowCount == 0)
        #expect(built.count == 2)
        #expect(built.summary.contains("2 rows"))
    }

    @Test func theInputFileIsNotModified() throws {
        let text = "\u{FEFF}text,outcome,propensity\r\n\"a, b\",1,0.5\r\n,2,0.5\r\nc,x,0.5\r\nd,4,0.5\r\n"
        var o = options(DatasetColumns(propensity: "propensity"), maxBad: 0.9)
        o.higherIsBetter = false
        let path = try Fixture.file(text)
        defer { Fixture.remove(path) }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let attrsBefore = try FileManager.default.attributesOfItem(atPath: path)
        let d = try DatasetLoader.load(path: path, options: o)
        #expect(d.rows.count == 2)
        let after = try Data(contentsOf: URL(fileURLWithPath: path))
        let attrsAfter = try FileManager.default.attributesOfItem(atPath: path)
        #expect(before == after)
        #expect(Array(after) == Array(text.utf8))
        #expect(attrsBefore[.modificationDate] as? Date == attrsAfter[.modificationDate] as? Date)
        #expect(attrsBefore[.size] as? NSNumber == attrsAfter[.size] as? NSNumber)
        // Nothing else appeared next to it.
        let dir = (path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["data.csv"])
    }

    @Test func hundredThousandRowsLoad() throws {
        let n = 100_000
        var w = CSVWriter(header: ["id", "text", "outcome", "propensity", "trait", "split"])
        for i in 0..<n {
            w.writeRecord([String(i),
                           "Headline \(i): \"quoted\", with commas, and enough words to look like a real headline \(i % 977).",
                           CSVWriter.format(Double(i % 1000) / 100), CSVWriter.format(0.25),
                           String(i % 2 == 0 ? 1 : -1), i % 5 == 0 ? "eval" : "train"])
        }
        let path = try Fixture.file(w.bytes)
        defer { Fixture.remove(path) }
        let cols = DatasetColumns(propensity: "propensity", trait: "trait", split: "split")
        let clock = ContinuousClock()
        let start = clock.now
        let d = try DatasetLoader.load(path: path, options: options(cols))
        let elapsed = clock.now - start
        print("100,000-row CSV (\(w.bytes.count) bytes) loaded in \(elapsed) (debug build; timing reported, not asserted)")
        #expect(d.rows.count == n)
        #expect(d.badRowCount == 0)
        #expect(d.rows[n - 1].line == n + 1)
        #expect(d.rows[12_345].outcome == Double(12_345 % 1000) / 100)
        #expect(d.rows.filter { $0.split == .eval }.count == n / 5)
    }
}

@Suite("dataset errors")
struct DatasetErrorTests {
    @Test func missingFile() throws {
        let dir = try Fixture.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("nope.csv").path
        #expect(throws: InputError.self) { try DatasetLoader.load(path: path, options: LoadOptions()) }
        do {
            _ = try DatasetLoader.load(path: path, options: LoadOptions())
        } catch {
            #expect(error.file == path)
            #expect(error.message == "file not found")
            #expect(error.hint.contains("Check the path"))
        }
    }

    @Test func directoryInsteadOfFile() throws {
        let dir = try Fixture.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sub = dir.appendingPathComponent("folder.csv")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        #expect(throws: InputError.self) { try DatasetLoader.load(path: sub.path, options: LoadOptions()) }
    }

    @Test func unknownExtension() throws {
        let e = try #require(loadError("text,outcome\na,1\n", name: "data.xlsx"))
        #expect(e.message.contains("'.xlsx'"))
        #expect(e.hint.contains(".csv") && e.hint.contains(".jsonl") && e.hint.contains("--format"))
    }

    @Test func missingColumnListsTheHeaderAndTheFlag() throws {
        let cols = DatasetColumns(text: "text", outcome: "resp")
        let e = try #require(loadError("text,resp_id,score\na,1,2\n", options(cols)))
        #expect(e.line == 1)
        #expect(e.message == "column 'resp' not found; the header has: text, resp_id, score")
        #expect(e.hint.contains("--outcome"))
        let t = try #require(loadError("Text,outcome\na,1\n"))
        #expect(t.message.hasPrefix("column 'text' not found"))
        #expect(t.hint.contains("Did you mean 'Text'?"))
        #expect(t.hint.contains("--text"))
    }

    @Test func missingOptionalColumnsAreHardErrorsToo() throws {
        let e = try #require(loadError("text,outcome\na,1\n", options(DatasetColumns(propensity: "p"))))
        #expect(e.message.hasPrefix("column 'p' not found"))
        #expect(e.hint.contains("--propensity"))
        let s = try #require(loadError("text,outcome\na,1\n", options(DatasetColumns(split: "fold"))))
        #expect(s.hint.contains("--split"))
    }

    @Test func semicolonSeparatedFileGetsAHint() throws {
        let e = try #require(loadError("text;outcome\na;1\n"))
        #expect(e.hint.contains("semicolons"))
    }

    @Test func emptyFile() throws {
        for bytes in [[UInt8](), [0xEF, 0xBB, 0xBF], Array("\n\r\n  \n".utf8)] {
            let e = try #require(loadError(bytes: bytes))
            #expect(e.message == "the file is empty")
            #expect(e.line == nil)
        }
    }

    @Test func headerOnly() throws {
        let e = try #require(loadError("text,outcome\n"))
        #expect(e.message.contains("no data rows"))
    }

    @Test func invalidUTF8IsAHardErrorWithPosition() throws {
        let bytes = Array("text,outcome\nfine,1\nbad ".utf8) + [0xE9] + Array("t\u{e9},2\n".utf8)
        let e = try #require(loadError(bytes: bytes))
        #expect(e.line == 3)
        #expect(e.column == 5)
        #expect(e.message.contains("invalid UTF-8"))
    }

    @Test func unterminatedQuoteReportsWhereItOpened() throws {
        let e = try #require(loadError("text,outcome\na,1\n\"b,2\nc,3\nd,4\n"))
        #expect(e.line == 3)
        #expect(e.column == 1)
        #expect(e.message.contains("never closed"))
    }

    @Test func duplicateHeaderName() throws {
        let e = try #require(loadError("text,outcome,text\na,1,b\n"))
        #expect(e.line == 1)
        #expect(e.column == 14)
        #expect(e.message.contains("'text' appears twice"))
        #expect(e.message.contains("columns 1 and 3"))
    }

    @Test func emptyHeaderName() throws {
        let e = try #require(loadError(",text,outcome\n0,a,1\n"))
        #expect(e.line == 1 && e.column == 1)
        #expect(e.message == "header column 1 has no name")
        #expect(e.hint.contains("index=False"))
        let t = try #require(loadError("text,outcome,\na,1,\n"))
        #expect(t.line == 1 && t.column == 14)
        #expect(t.message == "header column 3 has no name")
    }

    @Test func fileLargerThanTheLimitIsRefused() throws {
        var o = LoadOptions()
        o.maxFileBytes = 1 << 20
        let big = goodCSV(60_000)
        #expect(big.utf8.count > 1 << 20)
        let e = try #require(loadError(big, o))
        #expect(e.message.contains("more than the limit of 1 MB"))
        #expect(e.hint.contains("--max-file-mb"))
        o.maxFileBytes = 512 << 20
        #expect(try loadText(big, o).rows.count == 60_000)
    }

    @Test func fileSizeIsCheckedBeforeReading() throws {
        // A sparse 64 GB file: refused at once from its size; reading it first would exhaust
        // memory (or take minutes), so this fails if the check ever moves after the read.
        let dir = try Fixture.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("huge.csv")
        try Data("text,outcome\n".utf8).write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        let sparse = (try? handle.truncate(atOffset: 64 << 30)) != nil
        try handle.close()
        guard sparse else { return }   // the file system cannot make sparse files this large
        do {
            _ = try DatasetLoader.load(path: url.path, options: LoadOptions())
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "the file is 65536 MB, more than the limit of 512 MB")
            #expect(error.line == nil)
        }
    }

    /// A 1 GB single-line file is refused by the size limit, not read whole. The
    /// file is sparse (made with ftruncate: instant, no disk used), so this fails, slowly, if
    /// the loader ever reads before checking the size.
    @Test func oneGigabyteSingleLineFileIsRefusedBySize() throws {
        let dir = try Fixture.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("one-line.csv").path
        try Data("text,outcome,".utf8).write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_WRONLY)
        defer { close(fd) }
        guard fd >= 0, ftruncate(fd, off_t((1 << 30) + 1)) == 0 else { return }
        do {
            _ = try DatasetLoader.load(path: path, options: LoadOptions())
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "the file is 1024.1 MB, more than the limit of 512 MB")
            #expect(error.hint.contains("--max-file-mb"))
            #expect(error.line == nil)
        }
    }

    @Test func forcedBinaryOnNonBinaryOutcome() throws {
        let e = try #require(loadError("text,outcome\na,1\nb,0\nc,0.5\n", options(kind: .binary)))
        #expect(e.line == 4)
        #expect(e.message.contains("binary"))
        #expect(e.message.contains("0.5"))
        let mixed = try #require(loadError("text,outcome\na,1\nb,0\nc,-1\n", options(kind: .binary)))
        #expect(mixed.message.contains("mixes 0 (line 3) and -1 (line 4)"))
    }

    @Test func badOptionValues() throws {
        let e = try #require(loadError("text,outcome\na,1\n", options(maxBad: 1.5)))
        #expect(e.hint.contains("--max-bad-fraction"))
    }

    @Test func errorDescriptionIsCompilerStyle() throws {
        let e = try #require(loadError("text,outcome\n\"a,1\n", name: "x.csv"))
        #expect(e.description.hasSuffix("x.csv:2:1: quoted field opened here is never closed (the file ends inside it). Close the field with a quote; inside a quoted field write a quote as two quotes (\"\")."))
    }
}

@Suite("bad rows")
struct BadRowTests {
    @Test func eachKindOfBadRowIsCountedWithLineColumnAndReason() throws {
        let text = """
            text,outcome,propensity,trait
            good,1.5,0.5,1
            ,2,0.5,1
               ,2,0.5,1
            c,abc,0.5,1
            d,nan,0.5,1
            e,inf,0.5,1
            f,,0.5,1
            g,1,zero,1
            h,1,0.5,high
            i,1,0.5
            j,1,0.5,1,extra
            k,1e999,0.5,1
            good2,2.5,0.25,-1

            """
        let cols = DatasetColumns(propensity: "propensity", trait: "trait")
        var o = options(cols, maxBad: 1)
        let d = try loadText(text, o)
        #expect(d.rows.map(\.text) == ["good", "good2"])
        #expect(d.rows.map(\.line) == [2, 14])
        #expect(d.totalRecords == 13)
        #expect(d.badRowCount == 11)
        #expect(d.firstBadRows == [
            BadRow(line: 3, column: "text", reason: "the text is empty"),
            BadRow(line: 4, column: "text", reason: "the text is empty"),
            BadRow(line: 5, column: "outcome", reason: "'abc' is not a number"),
            BadRow(line: 6, column: "outcome", reason: "'nan' is not finite"),
            BadRow(line: 7, column: "outcome", reason: "'inf' is not finite"),
        ])
        // The rest, seen by loading the remaining lines alone.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let tail = ([lines[0]] + lines[7...]).joined(separator: "\n")
        o.maxBadFraction = 1
        let d2 = try loadText(String(tail), o)
        #expect(d2.firstBadRows.map(\.column) == ["outcome", "propensity", "trait", nil, nil])
        #expect(d2.firstBadRows[0].reason == "empty, expected a number")
        #expect(d2.firstBadRows[1].reason == "'zero' is not a number")
        #expect(d2.firstBadRows[2].reason == "'high' is not a number")
        #expect(d2.firstBadRows[3].reason == "3 fields, but the header has 4")
        #expect(d2.firstBadRows[4].reason == "5 fields, but the header has 4")
        #expect(d2.badRowCount == 6)
        #expect(d2.firstBadRows.count == 5)
        #expect(d2.firstBadRows.map(\.line) == [2, 3, 4, 5, 6])
    }

    @Test func exactlyAtTheLimitLoads() throws {
        // 10 bad of 1,000 records = 1.0%: not more than the default limit.
        var s = "text,outcome\n"
        for i in 0..<1000 { s += i % 100 == 7 ? "bad \(i),oops\n" : "row \(i),\(i)\n" }
        let d = try loadText(s)
        #expect(d.totalRecords == 1000)
        #expect(d.badRowCount == 10)
        #expect(d.rows.count == 990)
        #expect(d.firstBadRows.map(\.line) == [9, 109, 209, 309, 409])
    }

    @Test func justUnderTheLimitLoads() throws {
        var s = "text,outcome\n"
        for i in 0..<1000 { s += i < 9 ? ",\(i)\n" : "row \(i),\(i)\n" }
        let d = try loadText(s)
        #expect(d.badRowCount == 9)
        #expect(d.rows.count == 991)
    }

    @Test func justOverTheLimitIsRefused() throws {
        // 11 bad of 1,000 = 1.1%.
        var s = "text,outcome\n"
        for i in 0..<1000 { s += i % 91 == 3 ? "bad \(i),oops\n" : "row \(i),\(i)\n" }
        let e = try #require(loadError(s))
        #expect(e.message.hasPrefix("11 of 1000 rows (1.1%) are unusable, more than the limit of 1%: "))
        #expect(e.message.contains("line 5 (outcome): 'oops' is not a number; line 96 (outcome)"))
        #expect(e.message.hasSuffix("; and 6 more"))
        #expect(e.line == 5)
        #expect(e.hint.contains("--max-bad-fraction 0.02"))
        // Raising the limit lets it load.
        let d = try loadText(s, options(maxBad: 0.02))
        #expect(d.badRowCount == 11)
        #expect(d.rows.count == 989)
    }

    @Test func zeroLimitRefusesAnyBadRow() throws {
        let e = try #require(loadError("text,outcome\na,1\n,2\n", options(maxBad: 0)))
        #expect(e.message.contains("1 of 2 rows (50%)"))
    }

    @Test func noUsableRowIsRefusedEvenWithLimitOne() throws {
        let e = try #require(loadError("text,outcome\na,x\nb,y\n", options(maxBad: 1)))
        #expect(e.message.contains("2 of 2 rows"))
        #expect(e.hint.contains("No row is usable"))
    }
}

@Suite("outcomes and propensities")
struct OutcomeValueTests {
    @Test(arguments: [
        (["0", "1", "1", "0"], [0.0, 1, 1, 0]),
        (["-1", "1", "1", "-1"], [0.0, 1, 1, 0]),
        (["true", "false", "TRUE", "False"], [1.0, 0, 1, 0]),
        (["1.0", "0.0", " 1 ", "0"], [1.0, 0, 1, 0]),
        (["true", "0", "1", "false"], [1.0, 0, 1, 0]),
    ])
    func binaryIsDetectedForEachEncoding(_ raw: [String], _ expected: [Double]) throws {
        let text = "text,outcome\n" + raw.enumerated().map { "t\($0.offset),\($0.element)" }.joined(separator: "\n")
        let d = try loadText(text)
        #expect(d.outcomeKind == .binary)
        #expect(d.outcomes == expected)
        #expect(d.badRowCount == 0)
    }

    @Test(arguments: [
        ["0", "1", "2"], ["-1", "0", "1"], ["0.5", "1"], ["3", "4"],
    ])
    func nonBinaryIsContinuous(_ raw: [String]) throws {
        let text = "text,outcome\n" + raw.enumerated().map { "t\($0.offset),\($0.element)" }.joined(separator: "\n")
        let d = try loadText(text)
        #expect(d.outcomeKind == .continuous)
        #expect(d.outcomes == raw.map { Double($0)! })
    }

    @Test func forcedKinds() throws {
        let d = try loadText("text,outcome\na,-1\nb,1\n", options(kind: .binary))
        #expect(d.outcomeKind == .binary)
        #expect(d.outcomes == [0, 1])
        let c = try loadText("text,outcome\na,0\nb,1\n", options(kind: .continuous))
        #expect(c.outcomeKind == .continuous)
        #expect(c.outcomes == [0, 1])
    }

    @Test func booleansAmongContinuousOutcomesAreBadRows() throws {
        var s = "text,outcome\n"
        for i in 0..<200 { s += "r\(i),\(Double(i) / 10)\n" }
        s += "x,true\n"
        let d = try loadText(s)
        #expect(d.outcomeKind == .continuous)
        #expect(d.rows.count == 200)
        #expect(d.badRowCount == 1)
        #expect(d.firstBadRows == [BadRow(line: 202, column: "outcome",
                                          reason: "'true' is a boolean, expected a number (the other outcomes are not binary)")])
        let forced = try loadText("text,outcome\na,false\nb,1\nc,2\n", options(kind: .continuous, maxBad: 0.5))
        #expect(forced.outcomes == [1, 2])
        #expect(forced.firstBadRows.first?.reason.contains("set to continuous") == true)
    }

    @Test func higherIsBetterIsStored() throws {
        let up = try loadText("text,outcome\na,2\nb,3\n")
        #expect(up.higherIsBetter)
        #expect(up.oriented(2) == 2)
        let down = try loadText("text,outcome\na,2\nb,3\n", options(higherIsBetter: false))
        #expect(!down.higherIsBetter)
        #expect(down.outcomes == [2, 3])
        #expect(down.oriented(2) == -2)
        let bin = try loadText("text,outcome\na,0\nb,1\n", options(higherIsBetter: false))
        #expect(bin.oriented(1) == 0 && bin.oriented(0) == 1)
    }

    @Test func propensityProbabilitiesAreStoredAsLogs() throws {
        let cols = DatasetColumns(propensity: "p")
        let d = try loadText("text,outcome,p\na,1,0.5\nb,2,1\nc,3,1e-300\n", options(cols))
        #expect(d.rows[0].logPropensity == log(0.5))
        #expect(d.rows[1].logPropensity == 0)
        #expect(d.rows[2].logPropensity == log(1e-300))
        let p0 = try #require(d.rows[0].propensity)
        #expect(abs(p0 - 0.5) < 1e-15)
    }

    @Test func logPropensitiesAreStoredAsGiven() throws {
        let cols = DatasetColumns(propensity: "lp", propensityScale: .logProbability)
        let d = try loadText("text,outcome,lp\na,1,-0.6931\nb,2,0\nc,3,-700\n", options(cols))
        #expect(d.rows.map(\.logPropensity) == [-0.6931, 0, -700])
    }

    @Test func propensitiesOutOfRangeAreBadRows() throws {
        let prob = DatasetColumns(propensity: "p")
        let d = try loadText("text,outcome,p\na,1,0\nb,1,1.5\nc,1,-0.2\nd,1,0.3\n", options(prob, maxBad: 1))
        #expect(d.rows.map(\.text) == ["d"])
        #expect(d.firstBadRows.map(\.line) == [2, 3, 4])
        #expect(d.firstBadRows.allSatisfy { $0.column == "p" && $0.reason.contains("not a probability in (0, 1]") })
        #expect(d.firstBadRows[2].reason.contains("log"))
        let logScale = DatasetColumns(propensity: "p", propensityScale: .logProbability)
        let l = try loadText("text,outcome,p\na,1,0.5\nb,1,-1\n", options(logScale, maxBad: 1))
        #expect(l.rows.map(\.text) == ["b"])
        #expect(l.firstBadRows.first?.reason.contains("must be ≤ 0") == true)
    }

    @Test func traitAttributesAndTrueValue() throws {
        let cols = DatasetColumns(propensity: "propensity", trait: "trait", attributes: ["urgency", "guilt"],
                                  trueValue: "true_value")
        var w = CSVWriter(header: ["text", "outcome", "trait", "propensity", "design", "urgency", "guilt", "true_value"])
        w.writeRecord(["Act now. You owe it.", "1.25", "1", "0.0625", "randomized", "1", "1", "1.1"])
        w.writeRecord(["Act now.", "-0.5", "-1", "0.125", "randomized", "1", "0", "0.4"])
        let d = try loadBytes(w.bytes, name: "world.csv", options(cols))
        #expect(d.rows[0].attributes == [1, 1])
        #expect(d.rows[1].attributes == [1, 0])
        #expect(d.rows.map(\.trait) == [1, -1])
        #expect(d.rows.map(\.trueValue) == [1.1, 0.4])
        #expect(d.rows[1].logPropensity == log(0.125))
    }
}

@Suite("JSON Lines")
struct JSONLinesTests {
    @Test func goodLinesWithNumbersBooleansAndNumericStrings() throws {
        let text = """
            {"text": "first", "outcome": 1.5, "extra": [1, {"a": null}]}
            {"outcome": "2.5", "text": "sec\\"ond\\u00e9\\ud83d\\ude00"}

            {"text":"third","outcome":-3e2}\r
               \t
            {"text": "fourth", "outcome": " +4 "}
            """
        let d = try loadText(text, name: "d.jsonl")
        #expect(d.source.hasPrefix("jsonl:"))
        #expect(d.texts == ["first", "sec\"ondé😀", "third", "fourth"])
        #expect(d.outcomes == [1.5, 2.5, -300, 4])
        #expect(d.rows.map(\.line) == [1, 2, 4, 6])
        #expect(d.totalRecords == 4)
        #expect(d.outcomeKind == .continuous)
    }

    @Test func byteOrderMarkAndCRLF() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("{\"text\":\"a\",\"outcome\":1}\r\n\r\n{\"text\":\"b\",\"outcome\":2.5}\r\n".utf8)
        let d = try loadBytes(bytes, name: "d.jsonl")
        #expect(d.texts == ["a", "b"])
        #expect(d.rows.map(\.line) == [1, 3])
    }

    @Test func otherJSONValuesAreNotObjects() throws {
        let d = try loadText("{\"text\":\"a\",\"outcome\":1}\n\"a string\"\n42\n{\"text\":\"b\",\"outcome\":1}{\"x\":2}\n{\"text\":\"c\",\"outcome\":2}\n",
                             name: "d.jsonl", options(maxBad: 1))
        #expect(d.texts == ["a", "c"])
        #expect(d.firstBadRows.map(\.reason) == [
            "the line is a string, not a JSON object",
            "the line is a number, not a JSON object",
            "not valid JSON: '{' after the object (one object per line) at column 25",
        ])
    }

    @Test func booleanOutcomes() throws {
        let d = try loadText("{\"text\":\"a\",\"outcome\":true}\n{\"text\":\"b\",\"outcome\":false}\n{\"text\":\"c\",\"outcome\":\"TRUE\"}\n",
                             name: "d.ndjson")
        #expect(d.outcomeKind == .binary)
        #expect(d.outcomes == [1, 0, 1])
    }

    @Test func badLinesAreCountedWithReasons() throws {
        let text = """
            {"text": "ok", "outcome": 1}
            not json
            [1, 2]
            {"text": "no outcome"}
            {"text": "x", "outcome": null}
            {"text": 5, "outcome": 1}
            {"text": "y", "outcome": 1,}
            {"text": "z", "outcome": 1} trailing
            {"text": "w", "outcome": "1e999"}
            {"text": "v", "outcome": {"nested": 1}}
            {"text": "ok2", "outcome": 2}
            """
        let d = try loadText(text, name: "d.jsonl", options(maxBad: 1))
        #expect(d.texts == ["ok", "ok2"])
        #expect(d.badRowCount == 9)
        #expect(d.totalRecords == 11)
        #expect(d.firstBadRows == [
            BadRow(line: 2, column: nil, reason: "not valid JSON: unknown word (only true, false and null are allowed unquoted) at column 1"),
            BadRow(line: 3, column: nil, reason: "the line is an array, not a JSON object"),
            BadRow(line: 4, column: "outcome", reason: "no key 'outcome'"),
            BadRow(line: 5, column: "outcome", reason: "null, expected a number"),
            BadRow(line: 6, column: "text", reason: "5 is a number, expected a text string"),
        ])
        let rest = text.split(separator: "\n").dropFirst(6).joined(separator: "\n")
        let d2 = try loadText("{\"text\":\"ok\",\"outcome\":1}\n" + rest, name: "d.jsonl", options(maxBad: 1))
        #expect(d2.firstBadRows.map(\.reason) == [
            "not valid JSON: expected a key in double quotes, found '}' at column 28",
            "not valid JSON: 't' after the object (one object per line) at column 29",
            "'1e999' is not finite",
            "an object, expected a number",
        ])
        #expect(d2.firstBadRows.map(\.line) == [2, 3, 4, 5])
    }

    @Test func keyMissingFromEveryLineIsAHardError() throws {
        let e = try #require(loadError("{\"text\":\"a\",\"resp\":1}\n{\"text\":\"b\",\"resp\":2}\n", name: "d.jsonl"))
        #expect(e.message == "key 'outcome' is in no line; the first object (line 1) has keys: text, resp")
        #expect(e.hint.contains("--outcome"))
    }

    @Test func invalidUTF8InJSONLines() throws {
        let bytes = Array("{\"text\":\"a\",\"outcome\":1}\n{\"text\":\"".utf8) + [0xFF] + Array("\",\"outcome\":2}\n".utf8)
        let e = try #require(loadError(bytes: bytes, name: "d.jsonl"))
        #expect(e.line == 2)
        #expect(e.column == 10)
    }

    @Test func refusalAppliesToJSONLines() throws {
        var s = ""
        for i in 0..<50 { s += "{\"text\":\"t\(i)\",\"outcome\":\(i)}\n" }
        s += "oops\n"
        let e = try #require(loadError(s, name: "d.jsonl"))
        #expect(e.message.contains("1 of 51 rows"))
        #expect(e.message.contains("line 51"))
    }

    @Test func splitAndPropensityFromJSON() throws {
        let cols = DatasetColumns(propensity: "lp", propensityScale: .logProbability, split: "fold")
        let d = try loadText("{\"text\":\"a\",\"outcome\":1,\"lp\":-1.5,\"fold\":\"Train\"}\n{\"text\":\"b\",\"outcome\":2,\"lp\":\"-2\",\"fold\":\"VALID\"}\n",
                             name: "d.jsonl", options(cols))
        #expect(d.rows.map(\.split) == [.train, .validation])
        #expect(d.rows.map(\.logPropensity) == [-1.5, -2])
    }
}

@Suite("train / eval split")
struct DataSplitTests {
    func dataset(_ n: Int, parts: [DataSplit.Part?]? = nil) -> OutcomeDataset {
        let rows = (0..<n).map { i in OutcomeRow(text: "t\(i)", outcome: Double(i), split: parts?[i], line: i + 2) }
        return OutcomeDataset(source: "mem", outcomeKind: .continuous, rows: rows)
    }

    @Test func seededSplitIsEightyTwentyDisjointAndCovering() {
        let s = DataSplit.make(for: dataset(1000), seed: 42)
        #expect(s.train.count == 800)
        #expect(s.eval.count == 200)
        #expect(Set(s.train).isDisjoint(with: Set(s.eval)))
        #expect(Set(s.train).union(s.eval) == Set(0..<1000))
        #expect(s.train == s.train.sorted() && s.eval == s.eval.sorted())
        #expect(!s.fromColumn)
        #expect(s.seed == 42 && s.evalFraction == 0.2)
        #expect(s.part(of: s.eval[0]) == .eval && s.part(of: s.train[0]) == .train && s.part(of: 5000) == nil)
        // Not simply the last 20%.
        #expect(s.eval != Array(800..<1000))
    }

    @Test func sameSeedSameSplitOtherSeedOtherSplit() {
        let a = DataSplit.make(for: dataset(500), seed: 7)
        let b = DataSplit.make(for: dataset(500), seed: 7)
        let c = DataSplit.make(for: dataset(500), seed: 8)
        #expect(a == b)
        #expect(a.eval != c.eval)
        #expect(c.eval.count == 100)
    }

    @Test func pinnedSplitForSeedTwo() {
        // Pinned so a change of algorithm (which would silently change every recorded split) fails.
        let s = DataSplit.make(count: 10, evalFraction: 0.3, seed: 2)
        #expect(s.eval.count == 3)
                #expect(s.eval == [1, 2, 6])
        #expect(s.train == Array(Set(0..<10).subtracting(s.eval)).sorted())
    }

    @Test func otherFractionsAndSmallSets() {
        #expect(DataSplit.make(count: 10, evalFraction: 0.5, seed: 3).eval.count == 5)
        #expect(DataSplit.make(count: 3, evalFraction: 0.2, seed: 3).eval.count == 1)
        #expect(DataSplit.make(count: 2, evalFraction: 0.01, seed: 3).eval.count == 1)
        #expect(DataSplit.make(count: 2, evalFraction: 0.99, seed: 3).train.count == 1)
        #expect(DataSplit.make(count: 1, evalFraction: 0.2, seed: 3).train == [0])
        #expect(DataSplit.make(count: 10, evalFraction: 0, seed: 3).eval.isEmpty)
        #expect(DataSplit.make(count: 10, evalFraction: 1, seed: 3).train.isEmpty)
        #expect(DataSplit.make(count: 0, seed: 3).train.isEmpty)
    }

    @Test func splitColumnDecides() throws {
        let d = try loadText("text,outcome,split\na,1,train\nb,2,TEST\nc,3,Valid\nd,4, validation \ne,5,eval\nf,6,dev\ng,7,Train\n",
                             options(DatasetColumns(split: "split")))
        #expect(d.rows.map(\.split) == [.train, .eval, .validation, .validation, .eval, .validation, .train])
        // Without a validation part (runs saved before it existed), validation rows are evaluation rows.
        let s = DataSplit.make(for: d, seed: 99)
        #expect(s.fromColumn)
        #expect(s.train == [0, 6])
        #expect(s.eval == [1, 2, 3, 4, 5] && s.validation.isEmpty)
        #expect(s.evalFraction == 5.0 / 7.0)
        #expect(s.record == DataSplit.Record(seed: 99, evalFraction: 5.0 / 7.0, trainCount: 2, evalCount: 5, fromColumn: true))
        // With one, the column's validation rows are it.
        let three = DataSplit.make(for: d, validationFraction: 0.1, seed: 99)
        #expect(three.train == [0, 6] && three.eval == [1, 4] && three.validation == [2, 3, 5])
        #expect(three.part(of: 3) == .validation && three.part(of: 4) == .eval)
        #expect(three.record == DataSplit.Record(seed: 99, evalFraction: 2.0 / 7.0, trainCount: 2, evalCount: 2, fromColumn: true,
                                                 validationCount: 3, validationFraction: 3.0 / 7.0))
        #expect(three.summary == "split column: 2 train / 3 validation / 2 eval")
    }

    /// The seeded three-way split: disjoint parts covering every row, 70/10/20, fixed by the
    /// seed, the evaluation rows those of the two-way split with the same seed.
    @Test func threeWaySplitIsFixedByTheSeed() {
        let a = DataSplit.make(count: 1000, validationFraction: 0.1, seed: 7)
        #expect(a.train.count == 700 && a.validation.count == 100 && a.eval.count == 200)
        #expect(Set(a.train).union(a.validation).union(a.eval) == Set(0..<1000))
        #expect(Set(a.train).isDisjoint(with: a.validation) && Set(a.eval).isDisjoint(with: a.validation))
        #expect(a.validation == a.validation.sorted())
        #expect(a == DataSplit.make(count: 1000, validationFraction: 0.1, seed: 7))
        let b = DataSplit.make(count: 1000, validationFraction: 0.1, seed: 8)
        #expect(a.validation != b.validation && a.eval != b.eval)
        #expect(a.eval == DataSplit.make(count: 1000, seed: 7).eval)
        #expect(a.summary == "seeded split (seed 7, eval fraction 0.2, validation fraction 0.1): 700 train / 100 validation / 200 eval")
        // At least one row in each part asked for, when there are rows enough.
        let small = DataSplit.make(count: 4, validationFraction: 0.01, seed: 1)
        #expect(small.eval.count == 1 && small.validation.count == 1 && small.train.count == 2)
    }

    /// A split column without validation rows: a seeded share of its training rows becomes them.
    @Test func splitColumnWithoutValidationRows() throws {
        var csv = "text,outcome,split\n"
        for i in 0..<50 { csv += "t\(i),\(i),\(i % 5 == 0 ? "test" : "train")\n" }
        let d = try loadText(csv, options(DatasetColumns(split: "split")))
        let s = DataSplit.make(for: d, validationFraction: 0.1, seed: 3)
        #expect(s.eval == Array(stride(from: 0, to: 50, by: 5)))
        #expect(s.validation.count == 5 && s.train.count == 35 && s.validation.allSatisfy { $0 % 5 != 0 })
        #expect(s == DataSplit.make(for: d, validationFraction: 0.1, seed: 3))
        #expect(s.validation != DataSplit.make(for: d, validationFraction: 0.1, seed: 4).validation)
    }

    @Test func unknownSplitValueIsABadRow() throws {
        let d = try loadText("text,outcome,split\na,1,train\nb,2,holdout\nc,3,\n", options(DatasetColumns(split: "split"), maxBad: 1))
        #expect(d.rows.map(\.text) == ["a"])
        #expect(d.firstBadRows.map(\.line) == [3, 4])
        #expect(d.firstBadRows[0].reason.contains("'holdout' is not a split name"))
        #expect(d.firstBadRows[0].column == "split")
    }

    @Test func recordIsCodable() throws {
        let s = DataSplit.make(count: 50, seed: 5)
        let json = try JSONEncoder().encode(s.record)
        let back = try JSONDecoder().decode(DataSplit.Record.self, from: json)
        #expect(back == s.record)
        #expect(back.trainCount == 40 && back.evalCount == 10 && back.seed == 5 && !back.fromColumn)
        #expect(s.summary == "seeded split (seed 5, eval fraction 0.2): 40 train / 10 eval")
        let whole = try JSONDecoder().decode(DataSplit.self, from: JSONEncoder().encode(s))
        #expect(whole == s)
    }
}
