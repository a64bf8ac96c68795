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

    /// Pipes and devices have no size to check first, and a pipe with no writer would block
    /// `open` for ever: both are refused before they are opened, never read (the null device
    /// aside, which reads as an empty file).
    @Test func pipesAndDevicesAreRefusedBeforeReading() throws {
        #expect(throws: BoundedFileError.notRegular(path: "/dev/zero", kind: .characterDevice)) {
            try BoundedFile.read(path: "/dev/zero", maxBytes: 4096)
        }
        #expect(try BoundedFile.read(path: "/dev/null", maxBytes: 4096) == [])
        #if os(Linux)
        for (written, limit) in [(500, 1000), (2000, 1000)] {
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            let payload = [UInt8](repeating: 0x61, count: written)
            let w = payload.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
            #expect(w == written)   // fits in the pipe buffer
            close(fds[1])
            let path = "/proc/self/fd/\(fds[0])"
            #expect(throws: BoundedFileError.notRegular(path: path, kind: .namedPipe)) {
                try BoundedFile.read(path: path, maxBytes: limit)
            }
            // Nothing was taken from the pipe.
            var buffer = [UInt8](repeating: 0, count: written + 1)
            #expect(buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) } == written)
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

@Suite("UTF-8 text and hex")
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
}
