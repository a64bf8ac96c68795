import Foundation
import Testing
@testable import CPOSupport

@Suite("seeded randomness")
struct SeededRandomTests {
    @Test func sameSeedSameStreamDifferentSeedDifferentStream() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let xa = (0..<100).map { _ in a.next() }, xb = (0..<100).map { _ in b.next() }, xc = (0..<100).map { _ in c.next() }
        #expect(xa == xb)
        #expect(xa != xc)
        #expect(Set(xa).count == 100)
    }

    /// The stream is pinned: a change to the generator would silently change every run.
    @Test func streamIsPinned() {
        var r = SeededRandom(seed: 0)
        let first = (0..<3).map { _ in r.next() }
        var again = SeededRandom(seed: 0)
        #expect(first == (0..<3).map { _ in again.next() })
        // SplitMix64(0) first output is the published 0xE220A8397B1DCDAF.
        var sm: UInt64 = 0
        #expect(SeededRandom.splitMix64(&sm) == 0xE220_A839_7B1D_CDAF)
    }

    @Test func stateRestoresTheStream() {
        var r = SeededRandom(seed: 9)
        for _ in 0..<10 { _ = r.next() }
        var copy = SeededRandom(state: r.state)!
        #expect((0..<5).map { _ in r.next() } == (0..<5).map { _ in copy.next() })
        #expect(SeededRandom(state: [0, 0, 0, 0]) == nil)
        #expect(SeededRandom(state: [1, 2]) == nil)
    }

    @Test func boundedIntegersAreInRangeAndUniform() {
        var r = SeededRandom(seed: 1)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[r.int(below: 7)] += 1 }
        // Each cell ~ Binomial(70000, 1/7): sd ≈ 92.6; allow 5 sd.
        for c in counts { #expect(abs(c - 10_000) < 463) }
        for _ in 0..<1000 { #expect(r.int(below: 1) == 0) }
    }

    @Test func uniformAndGaussianMoments() {
        var r = SeededRandom(seed: 2)
        let n = 200_000
        let u = (0..<n).map { _ in r.uniform() }
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        let mu = u.reduce(0, +) / Double(n)
        #expect(abs(mu - 0.5) < 5 * (1.0 / 12 / Double(n)).squareRoot())
        let g = (0..<n).map { _ in r.gaussian() }
        let gm = g.reduce(0, +) / Double(n)
        let gv = g.map { ($0 - gm) * ($0 - gm) }.reduce(0, +) / Double(n)
        #expect(abs(gm) < 5 / Double(n).squareRoot())
        #expect(abs(gv - 1) < 5 * (2.0 / Double(n)).squareRoot())
        let f = (0..<1000).map { _ in r.uniformFloat() }
        #expect(f.allSatisfy { $0 >= 0 && $0 < 1 })
    }

    @Test func categoricalFollowsWeights() {
        var r = SeededRandom(seed: 3)
        let w = [1.0, 0, 3, 6]
        var counts = [Int](repeating: 0, count: 4)
        for _ in 0..<100_000 { counts[r.categorical(w)] += 1 }
        #expect(counts[1] == 0)
        for (i, p) in [0.1, 0, 0.3, 0.6].enumerated() where p > 0 {
            let sd = (100_000 * p * (1 - p)).squareRoot()
            #expect(abs(Double(counts[i]) - 100_000 * p) < 5 * sd)
        }
    }

    @Test func shuffleIsAPermutationAndSeeded() {
        var r1 = SeededRandom(seed: 4), r2 = SeededRandom(seed: 4)
        var a = Array(0..<50), b = Array(0..<50)
        r1.shuffle(&a)
        r2.shuffle(&b)
        #expect(a == b)
        #expect(a != Array(0..<50))
        #expect(a.sorted() == Array(0..<50))
    }

    @Test func derivedSeedsDifferByLabelAndSeed() {
        let s = Set(["FT", "CPO", "DR-CPO", "OO-RLHF"].map { SeededRandom.derivedSeed(7, $0) })
        #expect(s.count == 4)
        #expect(SeededRandom.derivedSeed(7, "CPO") == SeededRandom.derivedSeed(7, "CPO"))
        #expect(SeededRandom.derivedSeed(7, "CPO") != SeededRandom.derivedSeed(8, "CPO"))
    }
}

@Suite("checksums and atomic files")
struct FileSupportTests {
    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        // Incremental equals one-shot.
        let bytes = Array("hello, world".utf8)
        let part = bytes.withUnsafeBytes { CRC32.update(0, UnsafeRawBufferPointer(rebasing: $0[0..<5])) }
        let whole = bytes.withUnsafeBytes { CRC32.update(part, UnsafeRawBufferPointer(rebasing: $0[5...])) }
        #expect(whole == CRC32.checksum(bytes))
    }

    /// FIPS 180-4's examples, a message of a million bytes, and pieces fed one by one.
    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256.hex(SHA256.digest([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(SHA256.digest(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let twoBlocks = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(SHA256.digest(twoBlocks)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(SHA256.digest([UInt8](repeating: 0x61, count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let long = twoBlocks + twoBlocks + Array("x".utf8)
        for cut in [0, 1, 55, 56, 63, 64, 65, 112, long.count] {
            var s = SHA256()
            s.update(Array(long[..<cut]))
            s.update(Array(long[cut...]))
            #expect(s.finalize() == SHA256.digest(long), "cut at \(cut)")
        }
    }

    @Test func atomicWriteReplacesAndLeavesNoTemporaries() throws {
        let dir = NSTemporaryDirectory() + "cpo-support-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/file.bin"
        try AtomicFile.write(Array("first".utf8), to: path)
        try AtomicFile.write(Array("second, longer".utf8), to: path)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second, longer")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(names == ["file.bin"])
    }

    /// A file written piece by piece is the same file; a producer that fails part way leaves the
    /// old file and no temporary behind. A section file streams to the same bytes it encodes to.
    @Test func streamedWritesAreWholeOrNothing() throws {
        let dir = NSTemporaryDirectory() + "cpo-support-stream-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/file.bin"
        let sections: [(tag: String, bytes: [UInt8])] = [("AAAA", [9, 8]), ("BBBB", Array(0..<200)), ("AAAA", [])]
        let magic = Array("CPOTEST\n".utf8)
        try AtomicFile.write(to: path) { emit throws(FileWriteError) in
            try SectionFile.encode(magic: magic, version: 3, sectionCount: sections.count, section: { sections[$0] }, emit: emit)
        }
        let whole = SectionFile.encode(magic: magic, version: 3, sections: sections)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == whole)
        #expect(throws: FileWriteError.self) {
            try AtomicFile.write(to: path) { emit throws(FileWriteError) in
                try emit([1, 2, 3])
                throw FileWriteError.writeFailed(path: path, reason: "the producer gave up")
            }
        }
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == whole)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["file.bin"])
    }

    /// Temporary files of writers that are gone are removed; a live writer's and other files stay.
    @Test func staleTemporaryFilesAreRemovedOnlyForDeadWriters() throws {
        let dir = NSTemporaryDirectory() + "cpo-support-stale-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // PID 2^22 + 1 is above Linux's largest PID, so no process has it.
        let names = [".tmp-\(getpid())-1-mine", ".tmp-4194305-2-dead", ".tmp-x-3-unparsed", "entry.bin"]
        for n in names { try Data([1]).write(to: URL(fileURLWithPath: dir + "/" + n)) }
        AtomicFile.removeStaleTemporaryFiles(in: dir)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir)) == [".tmp-\(getpid())-1-mine", ".tmp-x-3-unparsed", "entry.bin"])
    }

    @Test func atomicWriteIntoAMissingDirectoryFailsClearly() {
        #expect {
            try AtomicFile.write([1, 2, 3], to: "/nonexistent-dir-cpo/file.bin")
        } throws: { error in
            guard let e = error as? FileWriteError, case .cannotCreate = e else { return false }
            return e.description.contains("/nonexistent-dir-cpo/file.bin")
        }
    }
}

@Suite("binary coding and section files")
struct BinaryCodingTests {
    static let magic = Array("CPOTEST\n".utf8)

    @Test func everyTypeRoundTripsBitForBit() throws {
        var w = ByteWriter()
        let doubles: [Double] = [0, -0.0, 1.5, .pi, .infinity, -.infinity, .nan, Double(bitPattern: 0x7FF0_0000_0000_0001), .leastNonzeroMagnitude]
        let floats: [Float] = [1, -2.5, .nan, .greatestFiniteMagnitude]
        w.u8(7); w.u32(0xDEAD_BEEF); w.u64(.max); w.int(-12345); w.bool(true); w.double(-0.0); w.float(3.25)
        w.string("ĝ — P^R ✓"); w.blob([1, 2, 3]); w.doubles(doubles); w.bools([true, false, true])
        floats.withUnsafeBufferPointer { w.floats($0.baseAddress!, count: $0.count) }
        w.int32s([-1, 0, .max, .min]); w.sequences([[1, 2], [], [3]])
        var r = ByteReader(w.bytes)
        #expect(try r.u8("a") == 7)
        #expect(try r.u32("a") == 0xDEAD_BEEF)
        #expect(try r.u64("a") == .max)
        #expect(try r.int("a") == -12345)
        #expect(try r.bool("a"))
        #expect(try r.double("a").bitPattern == (-0.0).bitPattern)
        #expect(try r.float("a") == 3.25)
        #expect(try r.string("a") == "ĝ — P^R ✓")
        #expect(Array(try r.blob("a")) == [1, 2, 3])
        #expect(try r.doubles("a").map(\.bitPattern) == doubles.map(\.bitPattern))
        #expect(try r.bools("a") == [true, false, true])
        var back = [Float](repeating: 0, count: 4)
        try back.withUnsafeMutableBufferPointer { try r.floats(into: $0.baseAddress!, count: 4, "f") }
        #expect(back.map(\.bitPattern) == floats.map(\.bitPattern))
        #expect(try r.int32s("a") == [-1, 0, .max, .min])
        #expect(try r.sequences("a") == [[1, 2], [], [3]])
        #expect(r.isAtEnd)
    }

    @Test func hostileLengthsAreRefusedBeforeAllocating() {
        var w = ByteWriter()
        w.int(Int(Int64.max / 2))   // claims ~4.6e18 doubles
        var r = ByteReader(w.bytes)
        #expect(throws: ByteReaderError.truncated(what: "x")) { try r.doubles("x") }
        var w2 = ByteWriter()
        w2.int(-3)
        var r2 = ByteReader(w2.bytes)
        #expect(throws: ByteReaderError.self) { try r2.string("s") }
        var w3 = ByteWriter()
        w3.u8(2)
        var r3 = ByteReader(w3.bytes)
        #expect(throws: ByteReaderError.malformed(what: "b", detail: "2 is not a boolean")) { try r3.bool("b") }
    }

    @Test func sectionFilesRoundTripAndRefuseEveryDamage() throws {
        var body = ByteWriter()
        body.doubles([1, 2, 3])
        let file = SectionFile.encode(magic: Self.magic, version: 3, sections: [("AAAA", [9, 8]), ("BBBB", body.bytes), ("AAAA", [])])
        let sections = try SectionFile.decode(file, magic: Self.magic, version: 3, path: "t")
        #expect(sections.map(\.tag) == ["AAAA", "BBBB", "AAAA"])
        #expect(Array(sections[0].bytes) == [9, 8])
        var r = ByteReader(sections[1].bytes)
        #expect(try r.doubles("d") == [1, 2, 3])

        // Every proper prefix is an error (never a crash), and so is every single flipped bit.
        for n in 0..<file.count {
            #expect(throws: SectionFileError.self) { try SectionFile.decode(Array(file.prefix(n)), magic: Self.magic, version: 3, path: "t") }
        }
        for i in 0..<file.count {
            var bad = file
            bad[i] ^= 0x10
            #expect(throws: SectionFileError.self) { try SectionFile.decode(bad, magic: Self.magic, version: 3, path: "t") }
        }
        #expect(throws: SectionFileError.unsupportedVersion(path: "t", found: 3, supported: 4)) {
            try SectionFile.decode(file, magic: Self.magic, version: 4, path: "t")
        }
        #expect(throws: SectionFileError.wrongKind(path: "t")) {
            try SectionFile.decode(file, magic: Array("OTHERKND".utf8), version: 3, path: "t")
        }
        #expect(throws: SectionFileError.malformed(path: "t", detail: "1 unexpected bytes after the checksum")) {
            try SectionFile.decode(file + [0], magic: Self.magic, version: 3, path: "t")
        }
    }
}

@Suite("section tags in messages")
struct PrintableTagTests {
    @Test func controlBytesAreEscaped() {
        #expect(SectionFile.printableTag(Array("META".utf8)) == "META")
        #expect(SectionFile.printableTag([0, 0x4D, 0x1B, 0xC3]) == "\\x00M\\x1B\\xC3")
    }
}
