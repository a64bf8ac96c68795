import Foundation
import Testing
@testable import CPOSupport
#if canImport(Glibc)
import Glibc
#endif

/// A fresh temporary directory for one test.
private func scratch() throws -> String {
    let dir = NSTemporaryDirectory() + "cpo-filelock-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// What a lock file says (its first line).
private func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

/// A pid no process has (above Linux's largest pid_max, 2^22).
private let deadPid: Int32 = Int32.max

/// A holder whose process is alive (the test runner's parent) but that is not this process.
private func otherHolder(_ command: String = "cpo-tui run --run-dir elsewhere") -> LockHolder {
    LockHolder(pid: getppid(), host: LockHolder.hostName, since: "2026-12-04T03:50:00Z", command: command)
}

@Suite("file locks")
struct FileLockTests {
    /// flock locks belong to an open file description: two `FileLock`s of one process exclude
    /// each other exactly as two processes do. The holder's name is in the file, and releasing
    /// removes the file and lets the next taker in.
    @Test func twoLocksInOneProcessExcludeEachOther() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/.lock"
        let first = try FileLock.acquire(path)
        #expect(first.isHeld)
        let written = try JSONDecoder().decode(LockHolder.self, from: Data(contents(path).utf8))
        #expect(written.pid == getpid() && written.host == LockHolder.hostName && !written.command.isEmpty)
        #expect(ISO8601DateFormatter().date(from: written.since) != nil, "\(written.since)")
        #expect(throws: FileLockError.held(path: path, holder: written)) { try FileLock.acquire(path) }
        #expect(FileLock.holder(of: path) == written)

        first.release()
        #expect(!first.isHeld && !FileManager.default.fileExists(atPath: path))
        first.release()   // idempotent
        let second = try FileLock.acquire(path)
        #expect(FileManager.default.fileExists(atPath: path))
        second.release()
    }

    /// A taker that waits gets the lock when its holder releases it, and the file at the path is
    /// then the taker's (the holder removed the one the taker had opened: it starts again).
    @Test func aWaitingTakerGetsTheLockWhenReleased() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/entry.lock"
        let holder = try FileLock.acquire(path, as: otherHolder())
        let thread = Thread {
            usleep(300_000)
            holder.release()
        }
        thread.start()
        var heard: [LockHolder?] = []
        let waiter = LockHolder(pid: getpid(), host: LockHolder.hostName, since: "2026-12-04T04:00:00Z", command: "the waiter")
        let lock = try FileLock.acquire(path, as: waiter, poll: 0.02) { who, _ in
            heard.append(who)
            return true
        }
        #expect(!heard.isEmpty && heard.allSatisfy { $0 == otherHolder() }, "\(heard)")
        #expect(try JSONDecoder().decode(LockHolder.self, from: Data(contents(path).utf8)) == waiter)
        lock.release()
        // A waiter that gives up throws who holds it.
        let again = try FileLock.acquire(path, as: otherHolder("the holder"))
        #expect(throws: FileLockError.held(path: path, holder: otherHolder("the holder"))) {
            try FileLock.acquire(path, poll: 0.01) { _, seconds in seconds < 0.05 }
        }
        again.release()
    }

    /// What a killed holder wrote stays in the file (the kernel drops the lock, not the file):
    /// it never names a holder, and the next taker overwrites it.
    @Test func aDeadHoldersFileIsOverwrittenAndNeverNamed() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/.lock"
        let stale = LockHolder(pid: deadPid, host: LockHolder.hostName, since: "2026-12-01T00:00:00Z", command: "cpo-tui run (killed)")
        #expect(stale.isGone && !otherHolder().isGone)
        try JSONEncoder().encode(stale).write(to: URL(fileURLWithPath: path))
        #expect(FileLock.holder(of: path) == nil, "nobody holds it")
        let lock = try FileLock.acquire(path)
        #expect(!contents(path).contains("killed") && contents(path).contains("\"pid\":\(getpid())"))
        lock.release()

        // Held by someone whose file still names the dead process (a taker that has not written
        // yet, or a program that writes nothing): reported as held by an unnamed holder.
        try JSONEncoder().encode(stale).write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_RDWR)
        #expect(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        defer { close(fd) }
        #expect(throws: FileLockError.held(path: path, holder: nil)) { try FileLock.acquire(path) }
        #expect(FileLock.holder(of: path) == nil)
    }

    /// Finding out who holds a lock writes nothing: no file is created where there is none.
    @Test func askingWhoHoldsALockWritesNothing() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileLock.holder(of: dir + "/.lock") == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    /// Something other than a regular file at the lock's path is neither followed nor
    /// truncated: the lock is unavailable (callers go on unlocked, saying so).
    @Test func aLinkOrDirectoryAtTheLockPathIsNotUsed() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/precious.txt"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.lock", withDestinationPath: target)
        #expect(throws: FileLockError.self) { try FileLock.acquire(dir + "/link.lock") }
        #expect(contents(target) == "keep me")
        try FileManager.default.createDirectory(atPath: dir + "/dir.lock", withIntermediateDirectories: false)
        do {
            _ = try FileLock.acquire(dir + "/dir.lock")
            Issue.record("a directory was taken for a lock file")
        } catch {
            guard case .unavailable(_, let reason) = error else { Issue.record("\(error)"); return }
            #expect(!reason.isEmpty)
        }
    }

    /// Another process (flock(1), as a stand-in for a second cpo-tui) holding the lock keeps
    /// `FileLock` out; killed with SIGKILL, its lock is gone at once and the file is taken over.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/flock"), "flock(1) is not installed"))
    func aLockOfAKilledProcessIsTakenOver() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/.lock"
        var pid: pid_t = 0
        // One process holds it: the shell opens the file, flock(1) locks that descriptor, and
        // sleep (exec'd in the shell's place, the same pid) keeps it open.
        let words: [String] = ["/bin/sh", "-c", "exec 9>\"$0\" && /usr/bin/flock -x 9 && exec /bin/sleep 60", path]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?] = [nil]
        try #require(posix_spawn(&pid, "/bin/sh", nil, nil, argv, envp) == 0 && pid > 0)
        // Wait (at most 10 s) until the child holds it.
        let deadline = Date().addingTimeInterval(10)
        var held = false
        while Date() < deadline && !held {
            switch FileLock.attempt(path) {
            case .held: held = true
            case .acquired(let fd): close(fd); usleep(20_000)   // not yet: let go at once
            case .unavailable: usleep(20_000)
            }
        }
        #expect(held, "flock(1) never took the lock")
        // flock(1) writes nothing into the file: held, by a holder that does not say who.
        #expect(throws: FileLockError.held(path: path, holder: nil)) { try FileLock.acquire(path) }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let lock = try FileLock.acquire(path)
        #expect(contents(path).contains("\"pid\":\(getpid())"))
        lock.release()
    }
}
