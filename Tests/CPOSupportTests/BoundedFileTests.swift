import Foundation
import Testing
@testable import CPOSupport

/// A fresh temporary directory for one test.
private func scratch() throws -> String {
    let dir = NSTemporaryDirectory() + "cpo-boundedfile-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// A file of `size` bytes that takes no disk space (holes), made with ftruncate: `head` first.
private func sparseFile(_ path: String, head: [UInt8], size: Int) throws -> Bool {
    guard FileManager.default.createFile(atPath: path, contents: Data(head)) else { return false }
    let fd = open(path, O_WRONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return ftruncate(fd, off_t(size)) == 0
}

@Suite("bounded file reading")
struct BoundedFileTests {
    @Test func readsWholeFilesUpToTheLimit() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f.txt"
        let bytes = (0..<3000).map { UInt8($0 % 251) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try BoundedFile.read(path: path, maxBytes: 3000) == bytes)
        #expect(try BoundedFile.read(path: path, maxBytes: 1 << 30) == bytes)
        #expect(throws: BoundedFileError.tooLarge(path: path, size: 3000, limit: 2999)) {
            try BoundedFile.read(path: path, maxBytes: 2999)
        }
        let empty = dir + "/empty.txt"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect(try BoundedFile.read(path: empty, maxBytes: 0) == [])
        #expect(throws: BoundedFileError.notFound(path: dir + "/missing")) {
            try BoundedFile.read(path: dir + "/missing", maxBytes: 10)
        }
        #expect(throws: BoundedFileError.notFound(path: path + "/below-a-file")) {
            try BoundedFile.read(path: path + "/below-a-file", maxBytes: 10)
        }
        #expect(throws: BoundedFileError.isDirectory(path: dir)) { try BoundedFile.read(path: dir, maxBytes: 10) }
    }

    /// A 1 GiB single-line file is refused from its size: it is sparse, so reading it would
    /// allocate and copy a gigabyte of zeros; the check must happen before.
    @Test func aHugeFileIsRefusedWithoutBeingRead() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/huge.csv"
        let size = (1 << 30) + 1
        guard try sparseFile(path, head: Array("text,outcome,".utf8), size: size) else { return }
        #expect(throws: BoundedFileError.tooLarge(path: path, size: size, limit: 512 << 20)) {
            try BoundedFile.read(path: path, maxBytes: 512 << 20)
        }
        let e = BoundedFileError.tooLarge(path: path, size: size, limit: 512 << 20)
        #expect(e.description == "\(path): the file is 1.1 GB, more than the limit of 512 MB")
    }

    /// Pipes and devices have no size to check first: they are read up to the limit and one
    /// byte more, then refused; never read to the end.
    @Test func pipesAndDevicesAreReadWithACap() throws {
        #expect(throws: BoundedFileError.tooLarge(path: "/dev/zero", size: 4097, limit: 4096)) {
            try BoundedFile.read(path: "/dev/zero", maxBytes: 4096)
        }
        #if os(Linux)
        for (written, limit) in [(500, 1000), (2000, 1000)] {
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            let payload = [UInt8](repeating: 0x61, count: written)
            let w = payload.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
            #expect(w == written)   // fits in the pipe buffer
            close(fds[1])
            let path = "/proc/self/fd/\(fds[0])"
            if written <= limit {
                #expect(try BoundedFile.read(path: path, maxBytes: limit) == payload)
            } else {
                #expect(throws: BoundedFileError.tooLarge(path: path, size: limit + 1, limit: limit)) {
                    try BoundedFile.read(path: path, maxBytes: limit)
                }
            }
            close(fds[0])
        }
        #endif
    }

    @Test func sizesReadAsRoundedUp() {
        #expect(BoundedFile.describeSize(0) == "0 bytes")
        #expect(BoundedFile.describeSize(1) == "1 byte")
        #expect(BoundedFile.describeSize(1023) == "1023 bytes")
        #expect(BoundedFile.describeSize(1536) == "1.5 KB")
        #expect(BoundedFile.describeSize(1 << 20) == "1 MB")
        #expect(BoundedFile.describeSize((1 << 20) + 1) == "1.1 MB")
        #expect(BoundedFile.describeSize(16 << 20) == "16 MB")
        #expect(BoundedFile.describeSize(4 << 30) == "4 GB")
    }
}

@Suite("UTF-8 text and the TOML guard")
struct TextCheckTests {
    @Test func invalidUTF8IsLocated() throws {
        let bytes = Array("a = 1\nb = \"x".utf8) + [0xC3, 0x28] + Array("\"\n".utf8)
        guard case .failure(let p) = UTF8Text.decode(bytes) else {
            Issue.record("invalid UTF-8 was accepted")
            return
        }
        #expect(p.line == 2 && p.column == 7 && p.offset == 12)
        #expect(p.description == "invalid UTF-8 (bytes C3 28 22 0A)")
        for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0xE2, 0x82]] {
            guard case .failure = UTF8Text.decode(bad) else { Issue.record("accepted \(bad)"); continue }
        }
        #expect(try UTF8Text.decode(Array("é ☃ 😀".utf8)).get() == "é ☃ 😀")
    }

    /// The range form used by the dataset readers: a sequence cut off by the end of the range
    /// is invalid, bytes outside the range are not looked at.
    @Test func firstInvalidLooksOnlyInsideTheRange() {
        let b: [UInt8] = Array("ab".utf8) + [0xC3, 0xA9] + [0xFF] + Array("é".utf8)
        #expect(UTF8Text.firstInvalid(b, from: 0, to: b.count) == 4)
        #expect(UTF8Text.firstInvalid(b, from: 0, to: 4) == nil)
        #expect(UTF8Text.firstInvalid(b, from: 0, to: 3) == 2)
        #expect(UTF8Text.firstInvalid(b, from: 5, to: b.count) == nil)
        #expect(UTF8Text.scalarCount(b, from: 0, to: b.count) == 5)   // a, b, é, FF, é
        #expect(UTF8Text.hasByteOrderMark(UTF8Text.byteOrderMark + [0x61]) && !UTF8Text.hasByteOrderMark([0xEF, 0xBB]))
    }

    @Test func hexShowsBytesOneWay() {
        #expect(Hex.byte(0x0A) == "0A" && Hex.byte(0xFF) == "FF" && Hex.byte(0) == "00")
        #expect(Hex.bytes([0xC3, 0x28]) == "C3 28" && Hex.bytes([]) == "")
        #expect(Hex.printable(Array("TO".utf8) + [0x1B, 0x7F]) == "TO\\x1B\\x7F")
    }

    /// Inputs toml++ 3.4 aborts on (debug) or has undefined behaviour on (release), minimized
    /// from the fuzz cases that found them: each is refused before it reaches toml++.
    @Test func refusesWhatTomlPlusPlusCannotSurvive() {
        var cases: [(String, TOMLGuard.Problem.Kind, Int, Int)] = [
            ("[\n", .headerName, 1, 2),
            ("e=\"\"\ns=[\"\"]\n[\n", .headerName, 3, 2),
            ("a = 1\n  [ =]\n", .headerName, 2, 5),
            ("[[#]]", .headerName, 1, 3),
            ("[[ .a]]", .headerName, 1, 4),
            ("[é]", .headerName, 1, 2),
            ("s=[0,}", .arrayElement, 1, 6),
            ("s=[}", .arrayElement, 1, 4),
            ("s=[0,\n  # c\n  }", .arrayElement, 3, 3),
            ("t={a=[}]}", .arrayElement, 1, 7),
            ("s=[\u{2028}]", .arrayElement, 1, 4),
            ("s=[1,\u{85}]", .arrayElement, 1, 6),
            ("s=1979-05-27T:", .dateTime, 1, 14),
            ("t = { a = 2024-02-29t: }", .dateTime, 1, 22),
            ("u = [\n  1979-05-27TZ:00,\n]", .dateTime, 2, 14),
            ("e=1979-05-27 1,", .dateTime, 1, 15),
            ("e = [1_979--5-27 1]", .dateTime, 1, 19),
            ("e = 0979-05-27 1 # c", .dateTime, 1, 17),
            ("t=0994-10-2s 9\n", .dateTime, 1, 15),
            ("a = \"\\u0000\"", .escapedNUL, 1, 6),
            ("\"k\\U00000000\" = 1", .escapedNUL, 1, 3),
            ("a = \"x\"\nb = 'y\u{0}'", .nul, 2, 7),
            ("\u{0}", .nul, 1, 1),
        ]
        // Deep nesting through dotted keys: toml++ frees nested tables recursively.
        let parts = TOMLGuard.maxDepth + 1
        cases.append((Array(repeating: "a", count: parts).joined(separator: ".") + " = 1", .tooDeep, 1, 2 * parts - 2))
        cases.append(("[" + Array(repeating: "b", count: parts).joined(separator: " . ") + "]", .tooDeep, 1, 4 * parts - 4))
        cases.append(("[x]\ny = " + String(repeating: "{ a.b = ", count: 50), .tooDeep, 2, 5 + 8 * 42))
        for (text, kind, line, column) in cases {
            let p = TOMLGuard.check(text)
            #expect(p?.kind == kind && p?.line == line && p?.column == column, "\(text.debugDescription): \(String(describing: p))")
        }
    }

    /// Valid TOML is never refused: brackets in strings, comments, multi-line arrays and
    /// inline tables are not headers or elements.
    @Test func letsValidTOMLThrough() throws {
        let valid = [
            "[a]\n[ b ]\n[\tc.d ]\n[\"e f\"]\n['g']\n[[h]]\n[[ i ]]\n[a.\"[x]\"]\n",
            "a = [\n  [\n    1, 2\n  ],\n  [ ],\n]\n",
            "a = [ # comment [\n  1, # } ,\n  2,\n]\nb = 'x [ y'\nc = \"}\\\"[\"\n",
            "s = \"\"\"\n[\nnot a header\n}\n\"\"\"\nt = '''\n[\n'''\nu = \"\"\"a\"\"\"\"\n[ok]\n",
            "t = { a = [\n 1,\n 2 ], b = { c = [] } }\n[next]\n",
            "# [ not a header\n  [indented]\nkey = \"[\"  # ]\n",
            "a = []\nb = [[]]\nc = [{}]\nd = [ {}, { x = 1 } ]\n",
            "[a]\r\nb = [\r\n  1,\r\n]\r\n[c]\r\n",
            "a = 1979-05-27T07:32:00Z\nb = 1979-05-27 07:32:00\nc = 1979-05-27\nd = [1979-05-27t00:00:00, 1979-05-27]\n"
                + "1979-05-27tx = 1\ne = \"1979-05-27T:\"\nf = [1979-05-27 07:32:00, 1979-05-27, 1979-05-27 ]\n"
                + "g = \"\\\\u0000 \\u0001 \\U00000041\"\nh = '\\u0000'\n",
            // The depth limit itself: exactly maxDepth levels pass.
            Array(repeating: "a", count: TOMLGuard.maxDepth).joined(separator: ".") + " = 1.5\n"
                + "[" + Array(repeating: "\"x.y\"", count: TOMLGuard.maxDepth).joined(separator: ".") + "]\n",
        ]
        for text in valid {
            #expect(TOMLGuard.check(text) == nil, "\(text.debugDescription)")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        var shipped = 0
        for folder in ["sample-data/worlds", "themes"] {
            let dir = root.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".toml") {
                let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                #expect(TOMLGuard.check(text) == nil, "\(folder)/\(name)")
                shipped += 1
            }
        }
        #expect(shipped >= 7)
    }
}
