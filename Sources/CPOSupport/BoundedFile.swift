import Foundation

/// Why `BoundedFile.read` refused or failed to read a file. Each loader maps these to its own
/// error type and wording; `description` is a plain fallback.
public enum BoundedFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Nothing at the path (ENOENT), or a path component is not a directory (ENOTDIR).
    case notFound(path: String)
    /// `stat` failed for another reason (e.g. permission denied on a directory on the way).
    case cannotAccess(path: String, reason: String)
    /// The path is a directory.
    case isDirectory(path: String)
    /// `open` failed (e.g. permission denied, or a socket).
    case cannotOpen(path: String, reason: String)
    /// The file is larger than the limit: `size` is its size from `stat` for a regular file,
    /// or the bytes read so far for a pipe or device that went on past the limit.
    case tooLarge(path: String, size: Int, limit: Int)
    /// `read` failed part-way.
    case readFailed(path: String, reason: String)

    public var path: String {
        switch self {
        case let .notFound(path), let .cannotAccess(path, _), let .isDirectory(path), let .cannotOpen(path, _),
             let .tooLarge(path, _, _), let .readFailed(path, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case let .notFound(path): return "\(path): file not found"
        case let .cannotAccess(path, reason): return "\(path): cannot read the file: \(reason)"
        case let .isDirectory(path): return "\(path): this is a directory, not a file"
        case let .cannotOpen(path, reason): return "\(path): cannot open the file: \(reason)"
        case let .tooLarge(path, size, limit):
            return "\(path): the file is \(BoundedFile.describeSize(size)), more than the limit of \(BoundedFile.describeSize(limit))"
        case let .readFailed(path, reason): return "\(path): reading the file failed: \(reason)"
        }
    }
}

/// Reads a whole file into memory, read-only, never holding more than a fixed number of bytes:
/// a regular file larger than the limit is refused from its size (`stat`) before a byte is
/// read, so a 1 GB file costs nothing; a pipe or device (whose size is unknown) is read until
/// the limit is passed and then refused. Every file loader goes through here, so hostile input
/// cannot make a load allocate without bound.
public enum BoundedFile {
    /// The bytes of `path`, or an error when it is missing, a directory, unreadable, or longer
    /// than `maxBytes` (a negative limit counts as 0).
    public static func read(path: String, maxBytes: Int) throws(BoundedFileError) -> [UInt8] {
        let limit = min(max(0, maxBytes), Int.max - 1)
        var st = stat()
        guard stat(path, &st) == 0 else {
            let err = errno
            if err == ENOENT || err == ENOTDIR { throw .notFound(path: path) }
            throw .cannotAccess(path: path, reason: String(cString: strerror(err)))
        }
        let type = st.st_mode & S_IFMT
        if type == S_IFDIR { throw .isDirectory(path: path) }
        let regular = type == S_IFREG
        let size = Int(st.st_size)
        if regular && size > limit { throw .tooLarge(path: path, size: size, limit: limit) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        // Read into one buffer of at most limit + 1 bytes: one byte past the limit is enough to
        // know the file is too large (it may have grown since `stat`, or be a pipe). A regular
        // file's buffer grows to its size + 1 first (the extra byte finds a file that grew), so
        // a small file does not zero a whole chunk (which costs a tenth of a second per load in
        // a debug build); a pipe's grows a chunk at a time.
        let chunk = 1 << 20
        var out = [UInt8]()
        out.reserveCapacity(regular ? min(size, limit) + 1 : min(limit + 1, chunk))
        var count = 0
        while true {
            let want = min(chunk, limit + 1 - count, regular && count <= size ? size + 1 - count : chunk)
            if want <= 0 { break }
            if out.count < count + want { out.append(contentsOf: repeatElement(0, count: count + want - out.count)) }
            let n = out.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + count, want) }
            if n < 0 {
                let err = errno
                if err == EINTR { continue }
                throw .readFailed(path: path, reason: String(cString: strerror(err)))
            }
            if n == 0 { break }
            count += n
        }
        if count > limit { throw .tooLarge(path: path, size: regular ? max(size, count) : count, limit: limit) }
        out.removeLast(out.count - count)
        return out
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
