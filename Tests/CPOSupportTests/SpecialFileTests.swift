import Foundation
import Synchronization
import Testing
@testable import CPOSupport

/// A fresh temporary directory for one test.
private func scratch(_ label: String) throws -> String {
    let dir = NSTemporaryDirectory() + "cpo-special-\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

private func bytes(_ path: String) -> [UInt8]? {
    (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) }
}

/// The temporary files writers left in `dir`.
private func temporaries(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix(".tmp-") }
}

/// Runs `body` on a thread of its own and waits at most `seconds` for it. Past that the test
/// fails and `unblock` is called (e.g. to open the other end of a pipe), so that a regression
/// that hangs fails the test instead of hanging `swift test`.
private func withoutHanging<T: Sendable>(_ seconds: Double = 60, unblock: @escaping @Sendable () -> Void = {},
                                         _ body: @escaping @Sendable () -> T) -> T? {
    let result = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Thread {
        let r = body()
        result.withLock { $0 = r }
        done.signal()
    }.start()
    if done.wait(timeout: .now() + seconds) == .timedOut {
        Issue.record("still blocked after \(Int(seconds)) s")
        unblock()
        _ = done.wait(timeout: .now() + 10)
    }
    return result.withLock { $0 }
}

private func readResult(_ path: String, maxBytes: Int = 1 << 20) -> Result<[UInt8], BoundedFileError> {
    do { return .success(try BoundedFile.read(path: path, maxBytes: maxBytes)) } catch { return .failure(error) }
}

/// Binds a Unix socket at `path` (a socket file); returns its descriptor, or nil.
private func bindSocket(_ path: String) -> Int32? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let name = Array(path.utf8)
    guard name.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); return nil }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (k, b) in name.enumerated() { raw[k] = b }
    }
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0 else { close(fd); return nil }
    return fd
}

/// The first block device under /dev (never opened), if there is one.
private func someBlockDevice() -> String? {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/dev"))?.sorted() ?? [] {
        var st = stat()
        if lstat("/dev/" + name, &st) == 0 && FileKind(mode: st.st_mode) == .blockDevice { return "/dev/" + name }
    }
    return nil
}

@Suite("files that are not regular files")
struct SpecialFileReadTests {
    /// A named pipe with no writer blocked `open` for ever; it is now refused at once, without
    /// being opened (its writer, if any, sees no reader).
    @Test func aNamedPipeIsRefusedWithoutWaiting() throws {
        let dir = try scratch("fifo")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/data.csv"
        try #require(mkfifo(fifo, 0o600) == 0)
        let result = withoutHanging(unblock: {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }) { readResult(fifo) }
        #expect(result == .failure(.notRegular(path: fifo, kind: .namedPipe)))
        let e = BoundedFileError.notRegular(path: fifo, kind: .namedPipe)
        #expect(e.description == "\(fifo): this is a named pipe (FIFO), not a regular file: cpo-tui reads regular files")
        #expect(throws: BoundedFileError.notRegular(path: fifo, kind: .namedPipe)) { try BoundedFile.check(path: fifo) }
    }

    @Test func devicesAndSocketsAreRefusedUpFront() throws {
        #expect(readResult("/dev/zero") == .failure(.notRegular(path: "/dev/zero", kind: .characterDevice)))
        #expect(readResult("/dev/urandom") == .failure(.notRegular(path: "/dev/urandom", kind: .characterDevice)))
        #expect(readResult("/dev/null") == .success([]))
        if let block = someBlockDevice() {
            #expect(readResult(block) == .failure(.notRegular(path: block, kind: .blockDevice)))
        }
        let dir = try scratch("socket")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/s.sock"
        if let fd = bindSocket(path) {
            defer { close(fd) }
            #expect(readResult(path) == .failure(.notRegular(path: path, kind: .socket)))
        }
        #expect(readResult(dir) == .failure(.isDirectory(path: dir)))
    }

    @Test func loopingLinksSaySo() throws {
        let dir = try scratch("loop")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a.toml", b = dir + "/b.toml", me = dir + "/me.csv"
        try FileManager.default.createSymbolicLink(atPath: a, withDestinationPath: b)
        try FileManager.default.createSymbolicLink(atPath: b, withDestinationPath: a)
        try FileManager.default.createSymbolicLink(atPath: me, withDestinationPath: me)
        for p in [a, b, me] {
            #expect(readResult(p) == .failure(.symlinkLoop(path: p)))
        }
        #expect(BoundedFileError.symlinkLoop(path: a).description.contains("too many levels of symbolic links"))
        // A link to a regular file reads as the file.
        let real = dir + "/real.txt", link = dir + "/link.txt"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: real))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        #expect(readResult(link) == .success(Array("hello".utf8)))
    }

    /// A file that grows, shrinks or is rewritten between two reads of one load is refused:
    /// the bytes read are not any version of the file. Changed at each point of the read.
    @Test func aFileChangedWhileBeingReadIsRefused() throws {
        let dir = try scratch("change")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/f.csv"
        let original = Array("0123456789".utf8)
        func reset() throws { try Data(original).write(to: URL(fileURLWithPath: path)) }
        func append(_ s: String) {
            let fd = open(path, O_WRONLY | O_APPEND)
            _ = Array(s.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        func readChanging(at point: Int, _ change: () -> Void) -> Result<[UInt8], BoundedFileError> {
            do {
                return .success(try BoundedFile.read(path: path, maxBytes: 100, chunk: 4) { if $0 == point { change() } })
            } catch { return .failure(error) }
        }
        let changed = Result<[UInt8], BoundedFileError>.failure(.changedWhileReading(path: path))

        try reset()
        #expect(readChanging(at: -1) {} == .success(original), "unchanged, read in chunks of 4")
        for point in [4, 8, 10] {   // after the first chunk, the second, and at the end
            try reset()
            #expect(readChanging(at: point) { append("X") } == changed, "grown after \(point) bytes")
        }
        for (point, size) in [(4, 2), (4, 6), (8, 9), (10, 0)] {
            try reset()
            #expect(readChanging(at: point) { _ = truncate(path, off_t(size)) } == changed, "cut to \(size) after \(point) bytes")
        }
        // Rewritten in place at the same size: the modification time says so.
        try reset()
        #expect(readChanging(at: 4) {
            let fd = open(path, O_WRONLY)
            _ = Array("abcdefghij".utf8).withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
            _ = futimens(fd, &times)
            close(fd)
        } == changed)
        // Replaced by another file (renamed over it) while read: the open file is read whole.
        try reset()
        #expect(readChanging(at: 4) {
            try? Data("new".utf8).write(to: URL(fileURLWithPath: dir + "/other"))
            _ = rename(dir + "/other", path)
        } == .success(original))
        #expect(BoundedFileError.changedWhileReading(path: path).description.contains("changed while being read: try again"))
    }

    /// Another thread appends numbered records, or cuts the file and extends it again, while it is
    /// read over and over: every read either is refused as changed or returns a state the file
    /// really had (whole records 0..k; bytes where they belong), never a torn mix, and never
    /// crashes.
    @Test func readsRacingAWriterNeverTear() throws {
        let dir = try scratch("race")
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // Appending records "0000000\n", "0000001\n", ... and starting again from empty after
        // 4096: the file is always records 0..k, whole.
        let log = dir + "/log.txt"
        _ = FileManager.default.createFile(atPath: log, contents: Data())
        let records = 4096
        let all = Array((0..<records).map { String(repeating: "0", count: 7 - "\($0)".count) + "\($0)\n" }.joined().utf8)
        readWhileWriting(log, writer: { stop in
            let fd = open(log, O_WRONLY | O_APPEND)
            var k = 0
            while !stop() {
                if k == records {
                    _ = ftruncate(fd, 0)
                    k = 0
                }
                _ = all[8 * k..<8 * k + 8].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                k += 1
            }
            close(fd)
        }, valid: { b in b.count <= all.count && b.count % 8 == 0 && b == Array(all[..<b.count]) })

        // Cut and extended: byte i is always i % 251 where the file has it.
        let cut = dir + "/cut.bin"
        let pattern = (0..<65_536).map { UInt8($0 % 251) }
        try Data(pattern).write(to: URL(fileURLWithPath: cut))
        readWhileWriting(cut, writer: { stop in
            let fd = open(cut, O_WRONLY)
            var rng = SeededRandom(seed: 7)
            var current = pattern.count
            while !stop() {
                // Only ever cut, then extend from the cut: the file is always a prefix of the pattern.
                let size = rng.int(below: current + 1)
                _ = ftruncate(fd, off_t(size))
                current = size + rng.int(below: pattern.count - size + 1)
                _ = pattern[size..<current].withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(size)) }
            }
            close(fd)
        }, valid: { b in b.count <= pattern.count && b == Array(pattern[..<b.count]) })
    }
}

/// Reads `path` over and over while `writer` changes it on a thread of its own (started
/// first), until 20 reads were refused as changed or 5,000 were made: every read either is
/// refused as changed or passes `valid`.
private func readWhileWriting(_ path: String, writer: @escaping @Sendable (_ stop: () -> Bool) -> Void, valid: ([UInt8]) -> Bool) {
    final class Flag: Sendable { let stop = Atomic<Bool>(false) }
    let flag = Flag()
    let started = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
    Thread {
        started.signal()
        writer { flag.stop.load(ordering: .relaxed) }
        finished.signal()
    }.start()
    started.wait()
    var refused = 0, reads = 0
    while refused < 20 && reads < 5_000 {
        reads += 1
        switch readResult(path, maxBytes: 1 << 24) {
        case .success(let b): #expect(valid(b), "a read of \(path) returned bytes the file never held (\(b.count) bytes)")
        case .failure(.changedWhileReading): refused += 1
        case .failure(let e): Issue.record("unexpected \(e)")
        }
    }
    flag.stop.store(true, ordering: .relaxed)
    finished.wait()
}

@Suite("writing beside files that are not regular files")
struct SpecialFileWriteTests {
    /// A named pipe, a directory, a device or a looping link where a file is to be written is
    /// refused, never opened or replaced, and no temporary file is left.
    @Test func aTargetThatIsNotARegularFileIsNeverReplaced() throws {
        let dir = try scratch("targets")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/out.csv", sub = dir + "/sub", loop = dir + "/loop.csv"
        try #require(mkfifo(fifo, 0o600) == 0)
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        var targets = [(fifo, "a named pipe (FIFO)"), (sub, "a directory"), (loop, FileKind.loopingLink)]
        let device = dir + "/null"
        var null = stat()
        if stat("/dev/null", &null) == 0 && mknod(device, S_IFCHR | 0o600, null.st_rdev) == 0 {
            targets.append((device, "a character device"))
        }
        for (path, what) in targets {
            let error = withoutHanging(unblock: {
                let fd = open(fifo, O_RDONLY | O_NONBLOCK)
                if fd >= 0 { close(fd) }
            }) { () -> FileWriteError? in
                do throws(FileWriteError) { try AtomicFile.write([1, 2, 3], to: path); return nil } catch { return error }
            }.flatMap { $0 }
            #expect(error == .notAFile(path: path, what: what))
            #expect(error?.description.contains("not a regular file: cpo-tui writes regular files") == true)
        }
        var st = stat()
        #expect(stat(fifo, &st) == 0 && FileKind(mode: st.st_mode) == .namedPipe, "the pipe is still a pipe")
        #expect(temporaries(dir).isEmpty)
    }

    /// Output directories: made with their parents; anything else at the path (or on the way)
    /// is refused with what it is.
    @Test func outputDirectoriesAreMadeOrRefusedWithWhatIsThere() throws {
        let dir = try scratch("outdirs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try OutputDirectory.make(dir + "/a/b/c")
        try OutputDirectory.make(dir + "/a/b/c")   // already there
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: dir + "/a/b/c", isDirectory: &isDir) && isDir.boolValue)
        let fifo = dir + "/fifo", file = dir + "/file", loop = dir + "/loop", dangling = dir + "/dangling"
        try #require(mkfifo(fifo, 0o600) == 0)
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: dir + "/nowhere")
        let cases: [(String, FileWriteError)] = [
            (fifo, .notADirectory(path: fifo, what: "a named pipe (FIFO)")),
            (fifo + "/run", .notADirectory(path: fifo, what: "a named pipe (FIFO)")),
            (file, .notADirectory(path: file, what: "a file")),
            (file + "/x/y", .notADirectory(path: file, what: "a file")),
            (loop, .notADirectory(path: loop, what: FileKind.loopingLink)),
            (dangling, .notADirectory(path: dangling, what: "a symbolic link to a missing directory")),
            ("/dev/null", .notADirectory(path: "/dev/null", what: "a character device")),
        ]
        for (path, expected) in cases {
            #expect(throws: expected) { try OutputDirectory.make(path) }
        }
        #expect(FileWriteError.notADirectory(path: fifo, what: "a named pipe (FIFO)").description
                == "\(fifo) is a named pipe (FIFO), not a directory. Pass a directory (it is created if missing).")
    }

    /// Files written together: a failure while writing any of them leaves every target as it
    /// was and no temporary file; a commit replaces them all.
    @Test func aBatchIsAllOrNothingWhileWriting() throws {
        let dir = try scratch("batch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let names = ["a.csv", "b.json", "c.html"]
        for n in names { try AtomicFile.write(Array("old \(n)".utf8), to: dir + "/" + n) }
        do {
            let batch = AtomicFile.Batch()
            try batch.add(Array("new a".utf8), to: dir + "/a.csv")
            try batch.add(Array("new b".utf8), to: dir + "/b.json")
            #expect(temporaries(dir).count == 2)
            #expect(throws: FileWriteError.writeFailed(path: dir + "/c.html", reason: "the disk is full (simulated)")) {
                try batch.add(to: dir + "/c.html") { emit throws(FileWriteError) in
                    try emit(Array("half".utf8))
                    throw FileWriteError.writeFailed(path: dir + "/c.html", reason: "the disk is full (simulated)")
                }
            }
            #expect(temporaries(dir).isEmpty)
            #expect(throws: Never.self) { try batch.commit() }   // nothing left to commit
        }
        for n in names { #expect(bytes(dir + "/" + n) == Array("old \(n)".utf8)) }
        do {
            // A batch that goes away uncommitted leaves nothing behind either.
            let batch = AtomicFile.Batch()
            try batch.add(Array("new a".utf8), to: dir + "/a.csv")
        }
        #expect(temporaries(dir).isEmpty && bytes(dir + "/a.csv") == Array("old a.csv".utf8))
        let batch = AtomicFile.Batch()
        for n in names { try batch.add(Array("new \(n)".utf8), to: dir + "/" + n) }
        try batch.commit()
        for n in names { #expect(bytes(dir + "/" + n) == Array("new \(n)".utf8)) }
        #expect(temporaries(dir).isEmpty)
    }

    /// What a failed write says: which file system and how full for a full disk, the limit for
    /// a file size limit.
    @Test func writeErrorsSayWhereAndWhatToDo() throws {
        let root = try #require(FileSystemSpace(of: "/"))
        #expect(root.mountPoint == "/" && root.totalBytes > 0)
        let tmp = try #require(FileSystemSpace(of: NSTemporaryDirectory()))
        let full = FileWriteError.explain(ENOSPC, in: NSTemporaryDirectory())
        #expect(full.hasPrefix("No space left on device: the file system at \(tmp.mountPoint) has "))
        #expect(full.hasSuffix("; free some space on it"))
        #expect(FileWriteError.explain(EIO, in: "/").contains("reported an error"))
        #expect(FileWriteError.explain(ENOENT, in: "/nonexistent-cpo").contains("check that the directory /nonexistent-cpo exists"))
        let e = FileWriteError.writeFailed(path: "/x/f", reason: full)
        #expect(e.description == "writing /x/f failed: \(full). The previous file is untouched.")
        #expect(e.reason == full && e.path == "/x/f")
    }
}
