import Foundation
import Testing
@testable import OutcomeData

/// `../shared/data` next to the package root (found from this file's path), where the real
/// datasets live outside the repository. These tests are skipped when it is absent.
let sharedDataDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()   // OutcomeDataTests
    .deletingLastPathComponent()   // Tests
    .deletingLastPathComponent()   // package root
    .appendingPathComponent("../shared/data").standardizedFileURL

let sharedDataAvailable: Bool = FileManager.default.fileExists(atPath: sharedDataDirectory.path)

/// Loads `folder/file` from the shared data with the columns its README names.
private func loadShared(_ folder: String, _ file: String, _ columns: DatasetColumns) throws -> OutcomeDataset {
    let path = sharedDataDirectory.appendingPathComponent(folder).appendingPathComponent(file).path
    return try DatasetLoader.load(path: path, options: LoadOptions(columns: columns))
}

private func mean(_ xs: [Double]) -> Double { xs.reduce(0, +) / Double(xs.count) }

/// Each README's documented row count, text column and outcome column, checked against what
/// the loader reads (the READMEs measured rows with Python's csv module).
@Suite("real datasets in ../shared/data", .enabled(if: sharedDataAvailable, "../shared/data is not present"))
struct RealDatasetTests {
    @Test func hongKongWave1() throws {
        let d = try loadShared("hongkong-fong-grimmer", "HKData.csv", DatasetColumns(text: "text", outcome: "resp"))
        #expect(d.rows.count == 1983)
        #expect(d.badRowCount == 0)
        #expect(d.outcomeKind == .continuous)
        #expect(d.rows[0].outcome == 93)
        #expect(d.rows[0].text.hasPrefix("Some time ago, Congress passed a bill which enshrined America's commitment"))
        #expect(d.rows.last?.outcome == 100)
        // README: mean support about 68 (Python: 67.584).
        #expect(abs(mean(d.outcomes) - 67.5845) < 0.001)
        #expect(d.outcomes.min() == 0 && d.outcomes.max() == 100)
    }

    @Test func hongKongWave2HasSixEmptyTexts() throws {
        let d = try loadShared("hongkong-fong-grimmer", "HKRepData.csv", DatasetColumns(text: "text", outcome: "resp"))
        #expect(d.totalRecords == 2072)
        #expect(d.badRowCount == 6)
        #expect(d.rows.count == 2066)
        #expect(d.firstBadRows.count == 5)
        #expect(d.firstBadRows.allSatisfy { $0.column == "text" && $0.reason == "the text is empty" })
        #expect(d.firstBadRows.map(\.line) == [124, 125, 1779, 1782, 1783])
        #expect(d.rows[0].outcome == 100)
        #expect(d.rows[0].text.hasPrefix("Chinese actions violate the terms of the agreement"))
        // README: mean about 70 (Python, rows with a text: 69.833).
        #expect(abs(mean(d.outcomes) - 69.8335) < 0.001)
    }

    @Test func hongKongTreatmentFlagsAsAttributes() throws {
        let flags = ["treatycommit", "brave", "evil", "flag", "threat", "economy", "treatyviolation"]
        let d = try loadShared("hongkong-fong-grimmer", "HKData.csv",
                               DatasetColumns(text: "text", outcome: "resp", attributes: flags))
        #expect(d.rows[0].attributes == [1, 0, 0, 1, 0, 1, 0])
        #expect(d.rows.allSatisfy { $0.attributes.allSatisfy { $0 == 0 || $0 == 1 } })
    }

    @Test func emoBank() throws {
        let d = try loadShared("emobank", "emobank.csv", DatasetColumns(text: "text", outcome: "V", split: "split"))
        #expect(d.rows.count == 10062)
        #expect(d.badRowCount == 0)
        #expect(d.rows[0].text == "Remember what she said in my last letter? \"")
        #expect(d.rows[0].outcome == 3.0)
        #expect(d.rows[2].text == "..\"")
        // README: valence mean 2.98.
        #expect(abs(mean(d.outcomes) - 2.9767) < 0.001)
        // The authors' split: train 8,062 / dev 1,000 / test 1,000 (dev and test are eval without a validation part).
        let split = DataSplit.make(for: d, seed: 0)
        #expect(split.fromColumn)
        #expect(split.train.count == 8062)
        #expect(split.eval.count == 2000)
        // With a validation part, dev is it and test the evaluation rows.
        let three = DataSplit.make(for: d, validationFraction: 0.1, seed: 0)
        #expect(three.train.count == 8062 && three.validation.count == 1000 && three.eval.count == 1000)
        // The README's "empty text" row (id easy_money_13624_13628) holds the literal word
        // "None" (a pandas artifact), which is a non-empty text.
        let none = d.rows.filter { $0.text == "None" }
        #expect(none.map(\.line) == [8414])
    }

    @Test func ibmArgumentQuality() throws {
        let d = try loadShared("ibm-argq-30k", "arg_quality_rank_30k.csv",
                               DatasetColumns(text: "argument", outcome: "WA", split: "set"))
        #expect(d.rows.count == 30497)
        #expect(d.badRowCount == 0)
        #expect(d.rows[0].outcome == 0.846164614)
        #expect(d.rows[0].text.hasPrefix("\"marriage\" isn't keeping up with the times."))
        #expect(d.outcomes.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Set: train 20,974 / dev 3,208 / test 6,315.
        let split = DataSplit.make(for: d, seed: 0)
        #expect(split.train.count == 20974)
        #expect(split.eval.count == 3208 + 6315)
        // CRLF records with LF line breaks inside some quoted arguments: physical lines drift
        // from record numbers, and the last record starts on the file's last line.
        #expect(d.rows.last?.line == 30555)
        let multiLine = try #require(d.rows.first { $0.text.hasPrefix("a school has students of all types of religions") })
        #expect(multiLine.line == 339)
        #expect(multiLine.text.contains("\n"))
    }

    @Test func stanfordPoliteness() throws {
        let cols = DatasetColumns(text: "Request", outcome: "Normalized Score")
        let wiki = try loadShared("stanford-politeness", "wikipedia.annotated.csv", cols)
        #expect(wiki.rows.count == 4353)
        #expect(wiki.badRowCount == 0)
        #expect(wiki.rows[0].outcome == -1.1200492637766977)
        #expect(wiki.rows[0].text == "Where did you learn English? How come you're taking on a third language?")
        #expect(abs(mean(wiki.outcomes)) < 1e-9)   // z-normalized
        let se = try loadShared("stanford-politeness", "stack-exchange.annotated.csv", cols)
        #expect(se.rows.count == 6603)
        #expect(se.badRowCount == 0)
        #expect(se.rows[0].outcome == 0.21732585796906326)
        #expect(se.outcomes.min().map { $0 > -4 && $0 < -3.9 } == true)
    }

    @Test func ukpConvArgRanking() throws {
        let d = try loadShared("ukpconvarg1-ranking", "ukpconvarg1_ranking.csv",
                               DatasetColumns(text: "argument", outcome: "rank"))
        #expect(d.rows.count == 1052)
        #expect(d.badRowCount == 0)
        #expect(d.rows[0].outcome == 0.0065)
        #expect(d.rows[0].text.hasPrefix("Bottled water consumption has grown exponentially"))
        // Ranks sum to 1 within each of the 32 debates.
        #expect(abs(d.outcomes.reduce(0, +) - 32) < 0.001)
    }

    @Test func wrongColumnNameOnARealFile() throws {
        do {
            _ = try loadShared("hongkong-fong-grimmer", "HKData.csv", DatasetColumns(text: "text", outcome: "response"))
            Issue.record("expected an error")
        } catch let e as InputError {
            #expect(e.line == 1)
            #expect(e.message == "column 'response' not found; the header has: resp, numtexts, treatycommit, brave, evil, flag, threat, economy, treatyviolation, resp_id, text1, text2, text3, text")
            #expect(e.hint.contains("--outcome"))
        }
    }

    @Test(arguments: [("raw.csv", 10548, 2), ("meta.tsv", 10548, 4), ("individual_reader_ratings.csv", 53055, 4)])
    func otherEmoBankFilesParse(_ file: String, _ rows: Int, _ fields: Int) throws {
        // Fully quoted CSV, a TSV and a long file: every record has the header's width.
        let url = sharedDataDirectory.appendingPathComponent("emobank").appendingPathComponent(file)
        var reader = CSVReader(bytes: Array(try Data(contentsOf: url)), file: url.path,
                               delimiter: file.hasSuffix(".tsv") ? UInt8(ascii: "\t") : UInt8(ascii: ","))
        let records = try reader.readAll()
        #expect(records.count == rows + 1)
        #expect(records.allSatisfy { $0.count == fields })
    }
}
