import CPOSupport
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// This process's hold on a run directory's lock (`RunDirectory.lockName`), shared by every
/// `RunDirectory` value made from it (copies share the lease). The lock itself is taken once per
/// directory and process, and released when the last lease on it goes: the lock keeps a second
/// process out of a run, while within one process the code that owns the run coordinates its
/// writes (a test may well create the same directory twice).
final class RunDirectoryLease: Sendable {
    /// A directory, by device and inode (two spellings of one path are one directory).
    struct Key: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    let key: Key

    private init(key: Key) { self.key = key }

    deinit { Self.drop(key) }

    /// The locks this process holds, with how many leases each has.
    private static let held = Mutex<[Key: (lock: FileLock, leases: Int)]>([:])

    /// A lease on the (existing) directory at `path`: its lock, taken now unless this process
    /// holds it already. Throws who else holds it, or that it cannot be locked.
    static func take(_ path: String) throws(FileLockError) -> RunDirectoryLease {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw .unavailable(path: path, reason: String(cString: strerror(errno)))
        }
        let key = Key(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        try held.withLock { table throws(FileLockError) in
            if let entry = table[key] {
                table[key] = (entry.lock, entry.leases + 1)
            } else {
                table[key] = (try FileLock.acquire(RunDirectory.lockPath(path)), 1)
            }
        }
        return RunDirectoryLease(key: key)
    }

    private static func drop(_ key: Key) {
        held.withLock { table in
            guard let entry = table[key] else { return }
            if entry.leases > 1 {
                table[key] = (entry.lock, entry.leases - 1)
            } else {
                entry.lock.release()
                table[key] = nil
            }
        }
    }
}

extension RunDirectory {
    /// The lock file of a run directory: held (flock) by the one process that writes the run, and
    /// naming it (pid, host, since when, command) for whoever finds it taken.
    public static let lockName = ".lock"

    static func lockPath(_ directory: String) -> String { directory + "/" + lockName }

    public var lockPath: String { Self.lockPath(path) }

    /// Whether this value holds the directory's lock (false when opened to read, or when the file
    /// system cannot lock: see `lockWarning`).
    public var isLocked: Bool { lease != nil }

    /// Who writes this run now, if another process does (read-only: nothing is created or
    /// written to find out).
    public func writer() -> LockHolder? { FileLock.holder(of: lockPath) }

    /// The lock for writing the (existing) directory at `path`: a lease, or nil and a warning
    /// when the directory cannot be locked (the run goes on, unprotected). Throws `.inUse` when
    /// another process holds it.
    static func lockForWriting(_ path: String) throws(RunStoreError) -> (RunDirectoryLease?, warning: String?) {
        do {
            return (try RunDirectoryLease.take(path), nil)
        } catch {
            switch error {
            case .held(_, let holder):
                throw .inUse(path: path, holder: holder)
            case .unavailable(_, let reason):
                return (nil, "cannot lock \(lockPath(path)) (\(reason)): going on without the lock, so nothing keeps another cpo-tui from writing this run at the same time")
            }
        }
    }
}
