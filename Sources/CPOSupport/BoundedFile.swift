import Foundation

/// What a path names, for messages that say why a file was refused: "a named pipe (FIFO)".
public enum FileKind: Sendable, Equatable {
    case regular, directory, namedPipe, characterDevice, blockDevice, socket, symbolicLink, unknown

    /// The kind `st_mode` (from `stat` or `lstat`) says.
    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .namedPipe
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFSOCK: self = .socket
        case S_IFLNK: self = .symbolicLink
        default: self = .unknown
        }
    }

    /// "a named pipe (FIFO)", "a character device", "a file" (a regular one).
    public var noun: String {
        switch self {
        case .regular: return "a file"
        case .directory: return "a directory"
        case .namedPipe: return "a named pipe (FIFO)"
        case .characterDevice: return "a character device"
        case .blockDevice: return "a block device"
        case .socket: return "a socket"
        case .symbolicLink: return "a symbolic link"
        case .unknown: return "a file of an unknown kind"
        }
    }

    /// What a path whose links loop (ELOOP) is called in messages.
    public static let loopingLink = "a symbolic link that loops (too many levels of symbolic links)"
}

/// Why `BoundedFile.read` refused or failed to read a file. Each loader maps these to its own
/// error type and wording; `description` is a plain fallback.
public enum BoundedFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Nothing at the path (ENOENT), or a path component is not a directory (ENOTDIR).
    case notFound(path: String)
    /// `stat` failed for another reason (e.g. permission denied on a directory on the way).
    case cannotAccess(path: String, reason: String)
    /// The path is a directory.
    case isDirectory(path: String)
    /// `open` failed (e.g. permission denied).
    case cannotOpen(path: String, reason: String)
    /// The file is larger than the limit: `size` is its size from `stat`.
    case tooLarge(path: String, size: Int, limit: Int)
    /// `read` failed part-way.
    case readFailed(path: String, reason: String)
    /// A named pipe, a device or a socket: refused before it is opened (opening a pipe with no
    /// writer would wait for ever, and a device or a pipe has no size to check first).
    case notRegular(path: String, kind: FileKind)
    /// The symbolic links on the way loop (ELOOP).
    case symlinkLoop(path: String)
    /// The file grew, shrank or was rewritten while it was read: what was read is not a
    /// version of the file, so it is not returned.
    case changedWhileReading(path: String)

    public var path: String {
        switch self {
        case let .notFound(path), let .cannotAccess(path, _), let .isDirectory(path), let .cannotOpen(path, _),
             let .tooLarge(path, _, _), let .readFailed(path, _), let .notRegular(path, _), let .symlinkLoop(path),
             let .changedWhileReading(path):
            return path
        }
    }

    /// What is wrong, without the path: "this is a named pipe (FIFO), not a regular file: ...".
    public var problem: String {
        switch self {
        case .notFound: return "file not found"
        case let .cannotAccess(_, reason): return "cannot read the file: \(reason)"
        case .isDirectory: return "this is a directory, not a file"
        case let .cannotOpen(_, reason): return "cannot open the file: \(reason)"
        case let .tooLarge(_, size, limit):
            return "the file is \(BoundedFile.describeSize(size)), more than the limit of \(BoundedFile.describeSize(limit))"
        case let .readFailed(_, reason): return "reading the file failed: \(reason)"
        case let .notRegular(_, kind): return "this is \(kind.noun), not a regular file: cpo-tui reads regular files"
        case .symlinkLoop: return "too many levels of symbolic links (a link on the way points back at itself)"
        case .changedWhileReading: return "the file changed while being read: try again once whatever writes it has finished"
        }
    }

    public var description: String { "\(path): \(problem)" }
}

/// Reads a whole regular file into memory, read-only, never holding more than a fixed number
/// of bytes: a file larger than the limit is refused from its size (`stat`) before a byte is
/// read, so a 1 GB file costs nothing. Every file loader goes through here, so hostile input
/// cannot make a load allocate without bound, wait for ever or return a torn read:
/// - a named pipe, a device or a socket is refused before it is opened (a pipe with no writer
///   would block `open` for ever; `/dev/zero` never ends). The one exception is the null
///   device, which reads as an empty file (`--config /dev/null`).
/// - a file that grows, shrinks or is rewritten while it is read is refused
///   (`changedWhileReading`): its size and modification time are taken before and after the
///   read, and the read must end exactly at the size.
/// - looping symbolic links get their own error.
public enum BoundedFile {
    /// The bytes of `path`, or an error when it is missing, not a regular file, unreadable,
    /// longer than `maxBytes` (a negative limit counts as 0) or changed while being read.
    public static func read(path: String, maxBytes: Int) throws(BoundedFileError) -> [UInt8] {
        try read(path: path, maxBytes: maxBytes, chunk: 1 << 20, afterChunk: { _ in })
    }

    /// `read`, in reads of at most `chunk` bytes, calling `afterChunk` with the bytes read so
    /// far after each (tests change the file there).
    static func read(path: String, maxBytes: Int, chunk: Int, afterChunk: (Int) -> Void) throws(BoundedFileError) -> [UInt8] {
        let limit = min(max(0, maxBytes), Int.max - 1)
        guard let st = try inspect(path) else { return [] }
        if Int(st.st_size) > limit { throw .tooLarge(path: path, size: Int(st.st_size), limit: limit) }
        // O_NONBLOCK: should the path have become a pipe since `stat`, `open` must not wait for
        // a writer (for a regular file the flag changes nothing). O_NOCTTY: never a terminal.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { throw failure(path, errno, opening: true) }
        defer { close(fd) }
        var before = stat()
        guard fstat(fd, &before) == 0 else { throw .readFailed(path: path, reason: String(cString: strerror(errno))) }
        let openedKind = FileKind(mode: before.st_mode)
        guard openedKind == .regular else {
            if openedKind == .directory { throw .isDirectory(path: path) }
            throw .notRegular(path: path, kind: openedKind)
        }
        guard before.st_dev == st.st_dev && before.st_ino == st.st_ino else { throw .changedWhileReading(path: path) }
        let size = Int(before.st_size)
        if size > limit { throw .tooLarge(path: path, size: size, limit: limit) }
        // One byte more than the size is asked for: getting it means the file grew.
        var failed: BoundedFileError?
        let out = [UInt8](unsafeUninitializedCapacity: size + 1) { buffer, initialized in
            var count = 0
            while count < size + 1 {
                let n = Foundation.read(fd, buffer.baseAddress! + count, min(max(1, chunk), size + 1 - count))
                if n < 0 {
                    let err = errno
                    if err == EINTR { continue }
                    failed = .readFailed(path: path, reason: String(cString: strerror(err)))
                    break
                }
                if n == 0 { break }
                count += n
                afterChunk(count)
            }
            initialized = count
        }
        if let failed { throw failed }
        var after = stat()
        guard fstat(fd, &after) == 0 else { throw .readFailed(path: path, reason: String(cString: strerror(errno))) }
        guard out.count == size, Int(after.st_size) == size, after.st_mtim.tv_sec == before.st_mtim.tv_sec,
              after.st_mtim.tv_nsec == before.st_mtim.tv_nsec else {
            throw .changedWhileReading(path: path)
        }
        return out
    }

    /// Refuses `path` as `read` would before opening it (missing, a directory, a pipe, a
    /// device, a socket, a looping link), without opening it: a check before any work.
    public static func check(path: String) throws(BoundedFileError) {
        _ = try inspect(path)
    }

    /// `path`'s status when it is a regular file; nil for the null device (an empty file);
    /// otherwise the error.
    private static func inspect(_ path: String) throws(BoundedFileError) -> stat? {
        var st = stat()
        guard stat(path, &st) == 0 else { throw failure(path, errno, opening: false) }
        let kind = FileKind(mode: st.st_mode)
        if kind == .directory { throw .isDirectory(path: path) }
        if kind != .regular {
            if kind == .characterDevice && isNullDevice(st) { return nil }
            throw .notRegular(path: path, kind: kind)
        }
        return st
    }

    /// The error for `stat` or `open` failing with `err`.
    private static func failure(_ path: String, _ err: Int32, opening: Bool) -> BoundedFileError {
        switch err {
        case ENOENT, ENOTDIR: return .notFound(path: path)
        case ELOOP: return .symlinkLoop(path: path)
        default:
            let reason = String(cString: strerror(err))
            return opening ? .cannotOpen(path: path, reason: reason) : .cannotAccess(path: path, reason: reason)
        }
    }

    /// Whether `st` (a character device) is the null device.
    private static func isNullDevice(_ st: stat) -> Bool {
        var null = stat()
        return stat("/dev/null", &null) == 0 && (null.st_mode & S_IFMT) == S_IFCHR && null.st_rdev == st.st_rdev
    }

    /// A size for messages, rounded up so that a file just over a limit never reads as equal
    /// to it: "512 bytes", "1.5 KB", "16.1 MB", "4 GB" (powers of 1024).
    public static func describeSize(_ bytes: Int) -> String {
        if bytes < 1 << 10 { return bytes == 1 ? "1 byte" : "\(bytes) bytes" }
        if bytes < 1 << 20 { return roundedUp(bytes, unit: 1 << 10) + " KB" }
        if bytes < 1 << 30 { return roundedUp(bytes, unit: 1 << 20) + " MB" }
        return roundedUp(bytes, unit: 1 << 30) + " GB"
    }

    /// `bytes` in units of `unit` bytes, rounded up to one decimal, without a trailing ".0":
    /// `roundedUp(1_572_864, unit: 1 << 20)` is "1.5", `roundedUp(1 << 20 + 1, unit: 1 << 20)` "1.1".
    public static func roundedUp(_ bytes: Int, unit: Int) -> String {
        let r = (Double(bytes) / Double(unit) * 10).rounded(.up) / 10
        let s = "\(r)"
        return s.hasSuffix(".0") ? String(s.dropLast(2)) : s
    }
}
