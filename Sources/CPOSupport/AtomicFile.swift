import Foundation

/// Errors from writing files; each names the file and says what to do.
public enum FileWriteError: Error, CustomStringConvertible, Equatable {
    case cannotCreate(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case renameFailed(path: String, reason: String)
    /// The target exists and is not a regular file (a named pipe, a device, a socket, a
    /// directory, a looping link): it is never replaced, and never opened.
    case notAFile(path: String, what: String)
    /// A directory to write into exists as something else ("a file", "a named pipe (FIFO)").
    case notADirectory(path: String, what: String)

    /// The file (or directory) that failed.
    public var path: String {
        switch self {
        case let .cannotCreate(path, _), let .writeFailed(path, _), let .renameFailed(path, _), let .notAFile(path, _),
             let .notADirectory(path, _):
            return path
        }
    }

    /// What went wrong and what to do about it, for a caller that names the file itself.
    public var reason: String {
        switch self {
        case let .cannotCreate(_, reason), let .writeFailed(_, reason), let .renameFailed(_, reason): return reason
        case let .notAFile(path, what):
            return "\(path) is \(what), not a regular file: cpo-tui writes regular files; remove it or choose another path"
        case let .notADirectory(path, what): return "\(path) is \(what), not a directory"
        }
    }

    public var description: String {
        switch self {
        case let .cannotCreate(path, reason): return "cannot create \(path): \(reason)."
        case let .writeFailed(path, reason): return "writing \(path) failed: \(reason). The previous file is untouched."
        case let .renameFailed(path, reason): return "cannot move the new file into place at \(path): \(reason)."
        case .notAFile: return reason + "."
        case .notADirectory: return reason + ". Pass a directory (it is created if missing)."
        }
    }

    /// `err` (from a write into `directory`) in words, with what to do: for a full disk, which
    /// file system and how much is free there; for a file size limit, the limit.
    public static func explain(_ err: Int32, in directory: String) -> String {
        let what = String(cString: strerror(err))
        let place = FileSystemSpace(of: directory)
        switch err {
        case ENOSPC:
            guard let place else { return what + ": free some disk space" }
            return what + ": the file system at \(place.mountPoint) has \(BoundedFile.describeSize(place.freeBytes)) free "
                + "of \(BoundedFile.describeSize(place.totalBytes)); free some space on it"
        case EDQUOT:
            return what + ": your disk quota" + (place.map { " on \($0.mountPoint)" } ?? "") + " is used up; free some space"
        case EFBIG:
            var limit = rlimit()
            if getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit) == 0 && limit.rlim_cur != rlim_t.max {
                return what + ": this process may not write files over \(BoundedFile.describeSize(Int(clamping: limit.rlim_cur))) "
                    + "(ulimit -f); raise the limit"
            }
            return what + ": the file system" + (place.map { " at \($0.mountPoint)" } ?? "") + " takes no file this large"
        case EIO:
            return what + ": the disk or file system" + (place.map { " at \($0.mountPoint)" } ?? "")
                + " reported an error; check it (dmesg) before trying again"
        case EROFS:
            return what + (place.map { ": \($0.mountPoint) is mounted read-only" } ?? "")
        case ENOENT, ENOTDIR:
            return what + ": check that the directory \(directory.isEmpty ? "." : directory) exists"
        case EACCES, EPERM:
            return what + ": check that you may write into \(directory.isEmpty ? "." : directory)"
        default:
            return what
        }
    }
}

/// The file system a path is on: where it is mounted, and its size and free space (for
/// messages about a full disk).
public struct FileSystemSpace: Sendable, Equatable {
    /// The top directory of the file system: the last one up from the path on the same device.
    public var mountPoint: String
    /// Bytes free to this process, and the file system's size.
    public var freeBytes: Int
    public var totalBytes: Int

    /// The file system of `path` (an existing file or directory; "" is the current directory);
    /// nil when it cannot be examined.
    public init?(of path: String) {
        guard let resolved = realpath(path.isEmpty ? "." : path, nil) else { return nil }
        var dir = String(cString: resolved)
        free(resolved)
        var st = stat(), vfs = statvfs()
        guard stat(dir, &st) == 0, statvfs(dir, &vfs) == 0 else { return nil }
        while dir != "/" {
            let parent = (dir as NSString).deletingLastPathComponent
            var up = stat()
            guard stat(parent.isEmpty ? "/" : parent, &up) == 0, up.st_dev == st.st_dev else { break }
            dir = parent.isEmpty ? "/" : parent
        }
        mountPoint = dir
        freeBytes = Int(clamping: UInt64(vfs.f_bavail) &* UInt64(vfs.f_frsize))
        totalBytes = Int(clamping: UInt64(vfs.f_blocks) &* UInt64(vfs.f_frsize))
    }
}

/// Writes files so that a reader only ever sees the old or the complete new contents:
/// write a temporary file in the same directory, fsync it, rename it over the target, fsync
/// the directory. A failure at any point (a full disk, an I/O error, a producer that gives
/// up) removes the temporary file and leaves the target as it was; an interrupted process
/// leaves at most a stray `.tmp-*` file behind. A target that exists and is not a regular
/// file (a named pipe, a device, a directory, a looping link) is refused, never opened.
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
        try commit([stage(to: path, produce)])
    }

    /// Several files that replace their targets together: each is written to its temporary
    /// file and flushed as it is added, and only `commit` renames them all into place. So a
    /// failure while writing any of them (the usual place of a full disk) leaves every target
    /// as it was: a report or an export is the old one or the new one, never a mix. Temporary
    /// files not committed are removed (`discard`, or when the batch goes away).
    public final class Batch {
        private var staged: [Staged] = []

        public init() {}

        deinit { discard() }

        public func add(_ bytes: [UInt8], to path: String) throws(FileWriteError) {
            try add(to: path) { emit throws(FileWriteError) in try emit(bytes) }
        }

        /// Writes a file piece by piece, as `AtomicFile.write(to:_:)`. On an error, the
        /// files added before are discarded too.
        public func add(to path: String,
                        _ produce: (_ emit: ([UInt8]) throws(FileWriteError) -> Void) throws(FileWriteError) -> Void)
            throws(FileWriteError) {
            do {
                staged.append(try AtomicFile.stage(to: path, produce))
            } catch {
                discard()
                throw error
            }
        }

        /// Moves every file into place, in the order added.
        public func commit() throws(FileWriteError) {
            let files = staged
            staged = []
            try AtomicFile.commit(files)
        }

        /// Removes the temporary files written so far; no target changes.
        public func discard() {
            for s in staged { unlink(s.temporary) }
            staged = []
        }
    }

    /// A complete temporary file beside its target, flushed to disk, not yet in place.
    struct Staged {
        let temporary: String
        let target: String
    }

    /// Refuses a target that exists and is not a regular file (or whose links loop): renaming
    /// over it would replace a pipe, a device or a link to one with a file.
    static func checkTarget(_ path: String) throws(FileWriteError) {
        var st = stat()
        if stat(path, &st) == 0 {
            let kind = FileKind(mode: st.st_mode)
            if kind != .regular { throw .notAFile(path: path, what: kind.noun) }
        } else if errno == ELOOP {
            throw .notAFile(path: path, what: FileKind.loopingLink)
        }
    }

    /// Writes what `produce` emits to a new temporary file beside `path`, fsyncs and closes it
    /// (every step checked); on any error the temporary file is removed.
    static func stage(to path: String,
                      _ produce: (_ emit: ([UInt8]) throws(FileWriteError) -> Void) throws(FileWriteError) -> Void)
        throws(FileWriteError) -> Staged {
        try checkTarget(path)
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let tmp = (dir.isEmpty ? "" : dir + "/") + temporaryPrefix + "\(getpid())-\(UInt32.random(in: 0...UInt32.max))-" + base
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { throw .cannotCreate(path: path, reason: FileWriteError.explain(errno, in: dir)) }
        var isOpen = true
        /// Closes (if still open) and removes the temporary file: the target stays as it was.
        func abandon(_ error: FileWriteError) -> FileWriteError {
            if isOpen { close(fd) }
            unlink(tmp)
            return error
        }
        func failure(_ err: Int32) -> FileWriteError { .writeFailed(path: path, reason: FileWriteError.explain(err, in: dir)) }
        var written = 0   // bytes of the file so far: the test hook waits at every 64 KB of the file
        func emit(_ bytes: [UInt8]) throws(FileWriteError) {
            var offset = 0
            let err: Int32? = bytes.withUnsafeBytes { raw -> Int32? in
                while offset < raw.count {
                    var chunk = raw.count - offset
                    if slowWriteMicroseconds > 0 {
                        chunk = min(chunk, slowWriteChunk - written % slowWriteChunk)
                        if written % slowWriteChunk == 0 { usleep(slowWriteMicroseconds) }
                    }
                    let n = Foundation.write(fd, raw.baseAddress! + offset, chunk)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    // A write that takes nothing would loop for ever: count it as a full disk.
                    if n == 0 { return ENOSPC }
                    offset += n
                    written += n
                }
                return nil
            }
            if let err { throw failure(err) }
        }
        do {
            try produce(emit)
        } catch {
            throw abandon(error)
        }
        // A delayed write error (a full disk on a file system that allocates late) surfaces in
        // fsync or close: both are checked before the file may replace the target.
        if fsync(fd) != 0 { throw abandon(failure(errno)) }
        isOpen = false
        if close(fd) != 0 && errno != EINTR { throw abandon(failure(errno)) }
        return Staged(temporary: tmp, target: path)
    }

    /// Renames each staged file over its target, in order, then fsyncs their directories (so
    /// the renames survive a power cut). A failed rename removes the temporary files left.
    static func commit(_ files: [Staged]) throws(FileWriteError) {
        for (k, f) in files.enumerated() {
            guard rename(f.temporary, f.target) != 0 else { continue }
            let reason = FileWriteError.explain(errno, in: (f.target as NSString).deletingLastPathComponent)
            for rest in files[k...] { unlink(rest.temporary) }
            throw .renameFailed(path: f.target, reason: reason)
        }
        var synced = Set<String>()
        for f in files {
            let dir = (f.target as NSString).deletingLastPathComponent
            guard synced.insert(dir).inserted else { continue }
            let dfd = Foundation.open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if dfd >= 0 { _ = fsync(dfd); close(dfd) }
        }
    }
}

/// Directories that output goes into: `--run-dir`, `--report`, `export --to`.
public enum OutputDirectory {
    /// Makes `path` a directory (with its parents) unless it is one. A path that exists as
    /// something else (a file, a named pipe, a device, a looping link), here or on the way,
    /// is refused with what it is; nothing is opened, so nothing can block.
    public static func make(_ path: String) throws(FileWriteError) {
        let target = path.isEmpty ? "." : path
        var st = stat()
        if stat(target, &st) == 0 {
            let kind = FileKind(mode: st.st_mode)
            if kind != .directory { throw .notADirectory(path: path, what: kind.noun) }
            return
        }
        let err = errno
        let parent = (path as NSString).deletingLastPathComponent
        switch err {
        case ELOOP:
            throw .notADirectory(path: path, what: FileKind.loopingLink)
        case ENOENT, ENOTDIR:
            // A parent that is missing is made first; one that is not a directory says so.
            if !parent.isEmpty && parent != path { try make(parent) }
            if mkdir(target, 0o755) == 0 { return }
            let mkdirError = errno
            if mkdirError == EEXIST {
                // Made meanwhile by another process, or a link to nowhere.
                if stat(target, &st) == 0 && FileKind(mode: st.st_mode) == .directory { return }
                var link = stat()
                if lstat(target, &link) == 0 && FileKind(mode: link.st_mode) == .symbolicLink {
                    throw .notADirectory(path: path, what: "a symbolic link to a missing directory")
                }
            }
            throw .cannotCreate(path: path, reason: FileWriteError.explain(mkdirError, in: parent))
        default:
            throw .cannotCreate(path: path, reason: FileWriteError.explain(err, in: parent))
        }
    }
}
