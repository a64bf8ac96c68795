import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Who holds a lock, as its holder wrote it into the lock file (one line of JSON), so that
/// whoever finds the lock taken can say by whom.
public struct LockHolder: Codable, Sendable, Equatable {
    public var pid: Int32
    public var host: String
    /// When it took the lock, ISO 8601 in UTC.
    public var since: String
    /// Its command line.
    public var command: String

    public init(pid: Int32, host: String, since: String, command: String) {
        self.pid = pid
        self.host = host
        self.since = since
        self.command = command
    }

    /// This process, now.
    public static func current(now: Date = Date()) -> LockHolder {
        LockHolder(pid: getpid(), host: hostName, since: ISO8601DateFormatter().string(from: now), command: commandLine)
    }

    /// This machine's name (gethostname; "unknown" when it has none).
    public static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "unknown" : name
    }()

    /// The command line as a user would type it: the program's name, then its arguments
    /// (quoted when they hold spaces), at most 200 characters.
    static let commandLine: String = {
        let args = CommandLine.arguments
        let words = [((args.first ?? "cpo-tui") as NSString).lastPathComponent] + args.dropFirst().map { arg in
            arg.isEmpty || arg.contains(where: { $0 == " " || $0 == "'" || $0 == "\"" }) ? "'" + arg + "'" : arg
        }
        let line = words.joined(separator: " ").replacingOccurrences(of: "\n", with: " ")
        return line.count > 200 ? String(line.prefix(199)) + "…" : line
    }()

    /// "pid 1234 on host lab1, since 2026-12-04T03:50:00Z".
    public var summary: String { "pid \(pid) on host \(host), since \(since)" }

    /// The command cut to 60 characters, for a message.
    public var shortCommand: String { command.count > 60 ? String(command.prefix(59)) + "…" : command }

    /// Known to be gone: it ran on this host and no process has its pid any more. (A holder on
    /// another host cannot be checked; one whose pid was reused looks alive.)
    public var isGone: Bool {
        host == Self.hostName && pid > 0 && kill(pid, 0) != 0 && errno == ESRCH
    }
}

/// Why `FileLock.acquire` did not take a lock.
public enum FileLockError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Someone else holds it: `holder` as its lock file says, nil when the file names nobody
    /// alive (the holder has not written it yet, or is not a cpo-tui).
    case held(path: String, holder: LockHolder?)
    /// No lock can be taken here: the file system does not support locks (ENOLCK on an NFS
    /// without a lock daemon, EOPNOTSUPP), or the lock file cannot be made (a read-only
    /// directory, something other than a regular file at its path). Callers go on unlocked and
    /// say so rather than refuse to work.
    case unavailable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .held(path, holder?): return "\(path) is held by \(holder.summary) (\(holder.command))"
        case .held(let path, nil): return "\(path) is held by another process"
        case let .unavailable(path, reason): return "cannot lock \(path): \(reason)"
        }
    }
}

/// An exclusive advisory lock on a file (`flock(2)`), between processes and also between two
/// `FileLock`s of one process: flock locks belong to an open file description, and each
/// `FileLock` opens its own. The kernel drops the lock when its holder dies, even by SIGKILL, so
/// a lock is never left behind: what a dead holder wrote into the file is simply overwritten by
/// the next one.
///
/// The holder writes who it is into the file (`LockHolder`) and removes the file when it
/// releases the lock. Removing is safe because every taker checks, once it holds the lock,
/// that the file it locked is still the one at the path, and starts again if not.
public final class FileLock: Sendable {
    public let path: String
    /// The lock file's descriptor; -1 once released.
    private let descriptor: Mutex<Int32>

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = Mutex(descriptor)
    }

    deinit { release() }

    /// How long `acquire` tries again before it reports the lock held: a reader holds it for an
    /// instant (`holder(of:)`), and a new holder writes its name right after locking.
    static let holderWriteWait = 0.5

    /// Takes the lock now, or throws who holds it.
    public static func acquire(_ path: String, as holder: LockHolder = .current()) throws(FileLockError) -> FileLock {
        // Held for a moment only? A reader finding out who holds it (`holder(of:)`), or a holder
        // that has not written its name yet: look again for a moment before giving up.
        try acquire(path, as: holder, poll: 0.025) { _, seconds in seconds < holderWriteWait }
    }

    /// Takes the lock, waiting while someone else holds it: every `poll` seconds `waiting` hears
    /// who holds it (nil: not known) and for how long it has waited; when it returns false the
    /// wait ends and `.held` is thrown.
    public static func acquire(_ path: String, as holder: LockHolder = .current(), poll: Double = 0.1,
                               waiting: (_ holder: LockHolder?, _ seconds: Double) -> Bool) throws(FileLockError) -> FileLock {
        let start = Date()
        while true {
            switch attempt(path) {
            case .acquired(let fd):
                return taken(path, fd, holder)
            case .unavailable(let reason):
                throw .unavailable(path: path, reason: reason)
            case .held(let named):
                guard waiting(named, Date().timeIntervalSince(start)) else { throw .held(path: path, holder: named) }
                usleep(UInt32(max(0.001, poll) * 1_000_000))
            }
        }
    }

    /// Who holds the lock at `path` now, as its file says; nil when nobody does (or nobody
    /// named and alive). Read-only: creates, writes and removes nothing, and holds a shared
    /// lock for an instant to find out (a taker meanwhile retries: `holderWriteWait`).
    public static func holder(of path: String) -> LockHolder? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { return nil }
        guard errno == EWOULDBLOCK || errno == EAGAIN, let named = readHolder(fd), !named.isGone else { return nil }
        return named
    }

    /// Releases the lock and removes its file (if it is still this lock's). Idempotent.
    public func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            if Self.sameFile(fd, path) { unlink(path) }
            close(fd)
            fd = -1
        }
    }

    /// Whether the lock is still held (not released).
    public var isHeld: Bool { descriptor.withLock { $0 >= 0 } }

    // MARK: - one attempt

    enum Attempt {
        /// Locked, and the file locked is the one at the path.
        case acquired(Int32)
        /// Someone else holds it; who, when its file names a live holder.
        case held(LockHolder?)
        case unavailable(String)
    }

    /// Test hook: with CPO_TEST_FLOCK_ERRNO=N every flock fails with errno N, as on a file
    /// system without locks (37 is ENOLCK on Linux). Unset: no effect.
    static let simulatedErrno: Int32? = ProcessInfo.processInfo.environment["CPO_TEST_FLOCK_ERRNO"].flatMap { Int32($0) }

    /// At most this many times a lock file that was replaced meanwhile is opened again.
    static let maxReopens = 100

    static func attempt(_ path: String) -> Attempt {
        for _ in 0..<maxReopens {
            // O_NOFOLLOW: a symbolic link planted at the path is refused, never followed (the
            // holder truncates the file it locks).
            let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
            if fd < 0 {
                if errno == EINTR { continue }
                return .unavailable("cannot open the lock file: \(String(cString: strerror(errno)))")
            }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                close(fd)
                return .unavailable("the lock file is not a regular file")
            }
            let rc = simulatedErrno.map { e -> Int32 in errno = e; return -1 } ?? flock(fd, LOCK_EX | LOCK_NB)
            if rc != 0 {
                let e = errno
                if e == EINTR { close(fd); continue }
                if e == EWOULDBLOCK || e == EAGAIN {
                    let named = readHolder(fd)
                    close(fd)
                    return .held(named.flatMap { $0.isGone ? nil : $0 })
                }
                close(fd)
                return .unavailable("the file system cannot lock files here (flock: \(String(cString: strerror(e))))")
            }
            // Locked; but if its holder removed the file meanwhile (on release), this is a file
            // nobody else will ever look at: start again with the one at the path now.
            if sameFile(fd, path) { return .acquired(fd) }
            close(fd)
        }
        return .unavailable("the lock file keeps being replaced")
    }

    /// Whether `fd` is the file at `path` now (same device and inode).
    static func sameFile(_ fd: Int32, _ path: String) -> Bool {
        var a = stat(), b = stat()
        return fstat(fd, &a) == 0 && lstat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    /// Most bytes of a lock file read for its holder.
    static let maxHolderBytes = 4096

    /// The holder a lock file names (nil: empty, or not a holder's line).
    static func readHolder(_ fd: Int32) -> LockHolder? {
        var buffer = [UInt8](repeating: 0, count: maxHolderBytes)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, maxHolderBytes, 0) }
        guard n > 0 else { return nil }
        return try? JSONDecoder().decode(LockHolder.self, from: Data(buffer[0..<n]))
    }

    /// Writes `holder` into the locked file (a failure leaves it unnamed, still locked).
    private static func taken(_ path: String, _ fd: Int32, _ holder: LockHolder) -> FileLock {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = ((try? encoder.encode(holder)).map { [UInt8]($0) } ?? []) + [0x0A]
        if ftruncate(fd, 0) == 0 {
            _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, line.count, 0) }
        }
        return FileLock(path: path, descriptor: fd)
    }
}
