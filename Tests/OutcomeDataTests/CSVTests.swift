import Testing
@testable import OutcomeData

/// Reads every record of `text` (or bytes), failing the test on an error.
private func records(_ text: String, delimiter: UInt8 = UInt8(ascii: ",")) throws -> [CSVRecord] {
    var r = CSVReader(text: text, file: "t.csv", delimiter: delimiter)
    return try r.readAll()
}

private func records(bytes: [UInt8]) throws -> [CSVRecord] {
    var r = CSVReader(bytes: bytes, file: "t.csv")
    return try r.readAll()
}

/// The error reading `bytes` throws, or nil (recording an issue) when it reads cleanly.
private func readError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> InputError? {
    var r = CSVReader(bytes: bytes, file: "t.csv")
    do {
        _ = try r.readAll()
        Issue.record("expected an error", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

private func readError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> InputError? {
    readError(Array(text.utf8), sourceLocation: sourceLocation)
}

@Suite("CSV reader and writer (RFC 4180)")
struct CSVTests {
    @Test func plainRecordsWithPositions() throws {
        let recs = try records("a,bb,c\n1,22,333\n")
        #expect(recs.map(\.values) == [["a", "bb", "c"], ["1", "22", "333"]])
        #expect(recs.map(\.line) == [1, 2])
        #expect(recs[1].fields.map(\.column) == [1, 3, 6])
        #expect(recs[1].fields.allSatisfy { $0.line == 2 && !$0.quoted })
    }

    @Test func lineEndingsLFCRLFAndLoneCRGiveTheSameRecords() throws {
        let lf = try records("a,b\n1,2\n3,4\n")
        let crlf = try records("a,b\r\n1,2\r\n3,4\r\n")
        let cr = try records("a,b\r1,2\r3,4\r")
        #expect(lf.map(\.values) == [["a", "b"], ["1", "2"], ["3", "4"]])
        #expect(crlf == lf)
        #expect(cr == lf)
    }

    @Test func trailingNewlineIsOptional() throws {
        let with = try records("a,b\n1,2\n")
        let without = try records("a,b\n1,2")
        let crlfWithout = try records("a,b\r\n1,2")
        #expect(with == without)
        #expect(crlfWithout == without)
        #expect(without.count == 2)
    }

    @Test func quotedFieldsWithCommasQuotesAndNewlines() throws {
        let text = "id,text\n1,\"hello, world\"\n2,\"she said \"\"hi\"\"\"\n3,\"line one\nline two\"\n4,\"crlf\r\ninside\"\n5,end\n"
        let recs = try records(text)
        #expect(recs.map(\.values) == [
            ["id", "text"],
            ["1", "hello, world"],
            ["2", "she said \"hi\""],
            ["3", "line one\nline two"],
            ["4", "crlf\r\ninside"],
            ["5", "end"],
        ])
        // Physical lines: record 3 spans lines 4-5, record 4 spans 6-7, so "5,end" is on line 8.
        #expect(recs.map(\.line) == [1, 2, 3, 4, 6, 8])
        #expect(recs[1][1].quoted)
        #expect(recs[1][1].column == 3)
        #expect(!recs[1][0].quoted)
    }

    @Test func fieldAfterAMultiLineFieldHasItsOwnLineAndColumn() throws {
        let recs = try records("a,b,c\n\"x\ny\",\"p\nq\",z\n")
        #expect(recs.count == 2)
        let f = recs[1].fields
        #expect(f[0].line == 2 && f[0].column == 1)
        #expect(f[1].line == 3 && f[1].column == 4)   // after `y",` on line 3
        #expect(f[2].line == 4 && f[2].column == 4)   // after `q",` on line 4
        #expect(recs[1].values == ["x\ny", "p\nq", "z"])
    }

    @Test func emptyFields() throws {
        let recs = try records("a,b,c\n,,\n1,,3\n\"\",x,\n")
        #expect(recs.map(\.values) == [["a", "b", "c"], ["", "", ""], ["1", "", "3"], ["", "x", ""]])
        #expect(recs[1].fields.map(\.column) == [1, 2, 3])
        #expect(recs[3][0].quoted)
    }

    @Test func blankLinesAreSkipped() throws {
        let recs = try records("a,b\n\n1,2\r\n\r\n\n3,4\n\n")
        #expect(recs.map(\.values) == [["a", "b"], ["1", "2"], ["3", "4"]])
        #expect(recs.map(\.line) == [1, 3, 6])
    }

    @Test func byteOrderMarkIsSkippedAndNotAColumn() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("text,outcome\nhi,1\n".utf8)
        var r = CSVReader(bytes: bytes, file: "t.csv")
        let recs = try r.readAll()
        #expect(r.hadByteOrderMark)
        #expect(recs[0].values == ["text", "outcome"])
        #expect(recs[0][0].column == 1)
        #expect(recs[0][1].column == 6)
        let plain = try records("text,outcome\nhi,1\n")
        #expect(plain == recs)
    }

    @Test func strayQuoteInsideUnquotedFieldIsLiteral() throws {
        let recs = try records("a,b\n5'11\",x\n")
        #expect(recs[1].values == ["5'11\"", "x"])
    }

    @Test func columnsCountUnicodeScalarsNotBytes() throws {
        let recs = try records("é€😀,x\n")
        #expect(recs[0].values == ["é€😀", "x"])
        #expect(recs[0][1].column == 5)
    }

    @Test func tabDelimiter() throws {
        let recs = try records("a\tb\n\"x\ty\"\t2\n", delimiter: UInt8(ascii: "\t"))
        #expect(recs.map(\.values) == [["a", "b"], ["x\ty", "2"]])
    }

    @Test func unterminatedQuoteIsReportedWhereItOpened() throws {
        let e = try #require(readError("a,b\n1,2\n3,\"never closed\nmore\nlines\n"))
        #expect(e.file == "t.csv")
        #expect(e.line == 3)
        #expect(e.column == 3)
        #expect(e.message.contains("never closed"))
        #expect(e.hint.contains("\"\""))
    }

    @Test func characterAfterClosingQuoteIsAnError() throws {
        let e = try #require(readError("a,b\n\"ab\"c,d\n"))
        #expect(e.line == 2)
        #expect(e.column == 5)
        #expect(e.message.contains("'c'"))
        #expect(e.message.contains("line 2, column 1"))
    }

    @Test func invalidUTF8ReportsLineAndColumn() throws {
        let bytes = Array("a,b\nok,x".utf8) + [0xFF] + Array("y\n".utf8)
        let e = try #require(readError(bytes))
        #expect(e.line == 2)
        #expect(e.column == 5)
        #expect(e.message.contains("invalid UTF-8"))
        #expect(e.message.contains("FF"))
        #expect(e.hint.contains("UTF-8"))
    }

    @Test func invalidUTF8InsideAMultiLineQuotedField() throws {
        // "é" before the bad byte counts as one column.
        let bytes = Array("a\n\"line1\né".utf8) + [0xC3, 0x28] + Array("\"\n".utf8)
        let e = try #require(readError(bytes))
        #expect(e.line == 3)
        #expect(e.column == 2)
    }

    @Test func invalidUTF8AfterABOMCountsColumnsWithoutTheBOM() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("ab".utf8) + [0x80]
        let e = try #require(readError(bytes))
        #expect(e.line == 1)
        #expect(e.column == 3)
    }

    @Test(arguments: [
        [0xC0, 0x80] as [UInt8],           // overlong NUL
        [0xE0, 0x80, 0x80],                // overlong
        [0xED, 0xA0, 0x80],                // surrogate U+D800
        [0xF4, 0x90, 0x80, 0x80],          // above U+10FFFF
        [0xE2, 0x82],                      // truncated
        [0xF8, 0x88, 0x80, 0x80, 0x80],    // 5-byte form
    ])
    func malformedUTF8IsRejected(_ bad: [UInt8]) throws {
        let e = try #require(readError(Array("x,".utf8) + bad + Array(",z\n".utf8)))
        #expect(e.line == 1 && e.column == 3)
    }

    @Test func wellFormedMultibyteUTF8IsAccepted() throws {
        let bytes: [UInt8] = [0xC3, 0xA9, 0x2C, 0xE2, 0x82, 0xAC, 0x2C, 0xF0, 0x9F, 0x98, 0x80, 0x2C, 0xF4, 0x8F, 0xBF, 0xBF]
        let recs = try records(bytes: bytes)
        #expect(recs[0].values == ["é", "€", "😀", "\u{10FFFF}"])
    }

    @Test func utf16FileIsRefused() throws {
        let e = try #require(readError([0xFF, 0xFE, 0x61, 0x00]))
        #expect(e.message.contains("UTF-16"))
        #expect(e.hint.contains("UTF-8"))
    }

    @Test func emptyInputHasNoRecords() throws {
        #expect(try records("").isEmpty)
        #expect(try records("\n\r\n").isEmpty)
        #expect(try records(bytes: [0xEF, 0xBB, 0xBF]).isEmpty)
    }

    @Test func readerIsStreaming() throws {
        var r = CSVReader(text: "a\n1\n2\n", file: "t.csv")
        #expect(try r.next()?.values == ["a"])
        #expect(!r.isAtEnd)
        #expect(try r.next()?.values == ["1"])
        #expect(try r.next()?.values == ["2"])
        #expect(r.isAtEnd)
        #expect(try r.next() == nil)
    }

    // MARK: - Writer

    @Test func writerQuotesOnlyWhenNeeded() {
        var w = CSVWriter(header: ["text", "outcome"])
        w.writeRecord(["plain", "1"])
        w.writeRecord(["a, b", "2"])
        w.writeRecord(["say \"hi\"", "3"])
        w.writeRecord(["two\nlines", "4"])
        w.writeRecord(["cr\rhere", ""])
        w.writeRecord(["", ""])
        let expected = "text,outcome\n"
            + "plain,1\n"
            + "\"a, b\",2\n"
            + "\"say \"\"hi\"\"\",3\n"
            + "\"two\nlines\",4\n"
            + "\"cr\rhere\",\n"
            + ",\n"
        #expect(w.text == expected)
        #expect(w.recordCount == 7)
        #expect(w.bytes == Array(w.text.utf8))
    }

    @Test func writerWritesALoneEmptyFieldAsQuotes() throws {
        var w = CSVWriter(header: ["text"])
        w.writeRecord([""])
        w.writeRecord(["x"])
        #expect(w.text == "text\n\"\"\nx\n")
        #expect(try records(w.text).map(\.values) == [["text"], [""], ["x"]])
    }

    @Test func writerThenReaderRoundTrips() throws {
        let rows: [[String]] = [
            ["id", "text", "value"],
            ["1", "commas, everywhere, here", CSVWriter.format(0.1)],
            ["2", "\"quoted\" and \"\"doubled\"\"", CSVWriter.format(-1e-5)],
            ["3", "multi\nline\r\nwith CRLF\rand CR", CSVWriter.format(123456789.125)],
            ["4", "  spaces kept  ", CSVWriter.format(1.0)],
            ["5", "unicode: é € 😀 中文", CSVWriter.format(-0.0)],
            ["6", "", CSVWriter.format(2.0 / 3.0)],
        ]
        var w = CSVWriter()
        for r in rows { w.writeRecord(r) }
        let back = try records(w.text)
        #expect(back.map(\.values) == rows)
        // Doubles written by `format` read back exactly.
        for r in back.dropFirst() {
            let v = try #require(Double(r.values[2]))
            #expect(CSVWriter.format(v) == r.values[2])
        }
        #expect(Double(back[6].values[2]) == 2.0 / 3.0)
    }

    @Test func doubleFormattingIsShortestRoundTrip() {
        #expect(CSVWriter.format(0.1) == "0.1")
        #expect(CSVWriter.format(1.0) == "1.0")
        #expect(CSVWriter.format(-2.5) == "-2.5")
        #expect(CSVWriter.format(1e-05) == "1e-05")
        #expect(CSVWriter.format(0.30000000000000004) == "0.30000000000000004")
        #expect(CSVWriter.format(42) == "42")
    }

    @Test func writerWithTabDelimiterQuotesTabs() throws {
        var w = CSVWriter(delimiter: "\t")
        w.writeRecord(["a\tb", "c,d"])
        #expect(w.text == "\"a\tb\"\tc,d\n")
        #expect(try records(w.text, delimiter: UInt8(ascii: "\t")).map(\.values) == [["a\tb", "c,d"]])
    }
}
