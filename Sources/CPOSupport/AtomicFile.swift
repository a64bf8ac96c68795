import Foundation

/// Errors from writing files; each says what to do.
public enum FileWriteError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case renameFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotCreate(path, reason):
            return "cannot create \(path): \(reason). Check that the directory exists and is writable."
        case let .writeFailed(path, reason):
            return "writing \(path) failed: \(reason). Check free disk space; the previous file is untouched."
        case let .renameFailed(path, reason):
            return "cannot move the new file into place at \(path): \(reason)."
        }
    }
}

/// Writes files so that a reader only ever sees the old or the complete new contents:
/// write a temporary file in the same directory, fsync it, rename it over the target, fsync
/// the directory. An interrupted write leaves at most a stray `.tmp-*` file behind.
public enum AtomicFile {
    /// Test hook: with CPO_TEST_SLOW_WRITES_US=N every 64 KB chunk waits N µs first, so a test
    /// that kills the process at random moments lands inside saves often. Unset: no effect.
    /// With the hook on, bytes are written in chunks of this size, each after a wait.
    static let slowWriteChunk = 65_536
    static let slowWriteMicroseconds: UInt32 = {
        guard let v = ProcessInfo.processInfo.environment["CPO_TEST_SLOW_WRITES_US"], let n = UInt32(v) else { return 0 }
        return min(n, 1_000_000)
    }()

    /// What every temporary file's name starts with: `.tmp-PID-RANDOM-NAME`.
    static let temporaryPrefix = ".tmp-"

    /// Removes the temporary files that interrupted writes into `directory` left behind: only
    /// those whose process is gone, so a write under way elsewhere is never touched.
    public static func removeStaleTemporaryFiles(in directory: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where name.hasPrefix(temporaryPrefix) {
            guard let pid = Int32(name.dropFirst(temporaryPrefix.count).prefix { $0 != "-" }) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: directory + "/" + name)
            }
        }
    }

    public static func write(_ bytes: [UInt8], to path: String) throws(FileWriteError) {
        try write(to: path) { emit throws(FileWriteError) in try emit(bytes) }
    }

    /// `write` for contents made piece by piece: `produce` hands each piece to `emit` in file
    /// order, so the whole file need never be in memory at once (a run's checkpoint goes one
    /// section at a time). An error from either leaves the target untouched.
    public static func write(to path: String,
                             _ produce: (_ emit: ([UInt8]) throws(FileWriteError) -> Void) throws(FileWriteError) -> Void)
        throws(FileWriteError) {
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let tmp = (dir.isEmpty ? "" : dir + "/") + temporaryPrefix + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))-" + base
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { throw .cannotCreate(path: path, reason: String(cString: strerror(errno))) }
        var written = 0   // bytes of the file so far: the test hook waits at every 64 KB of the file
        func emit(_ bytes: [UInt8]) throws(FileWriteError) {
            var offset = 0
            let failure: String? = bytes.withUnsafeBytes { raw -> String? in
                while offset < raw.count {
                    var chunk = raw.count - offset
                    if slowWriteMicroseconds > 0 {
                        chunk = min(chunk, slowWriteChunk - written % slowWriteChunk)
                        if written % slowWriteChunk == 0 { usleep(slowWriteMicroseconds) }
                    }
                    let n = Foundation.write(fd, raw.baseAddress! + offset, chunk)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return String(cString: strerror(errno))
                    }
                    offset += n
                    written += n
                }
                return nil
            }
            if let failure { throw .writeFailed(path: path, reason: failure) }
        }
        do {
            try produce(emit)
        } catch {
            close(fd); unlink(tmp)
            throw error
        }
        if fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            close(fd); unlink(tmp)
            throw .writeFailed(path: path, reason: reason)
        }
        close(fd)
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw .renameFailed(path: path, reason: reason)
        }
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }
}
