#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An owned, 64-byte aligned block of floats: parameters, gradients, optimizer moments and
/// activations live in these, so hot loops get a raw pointer once and never touch an Array
/// (TinyLM.docc/Kernels.md, "Lessons" 4 and 5).
///
/// A large block (`mappedBytes` or more) is mapped from the system directly and unmapped when the
/// buffer goes: the allocator would keep a freed block of a few MB (activations, a decoder's KV
/// cache) in the arena of the thread that made it, and with a dozen worker threads making them
/// in turn, a run held hundreds of MB it no longer used (TinyLM.docc/Memory.md).
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>
    /// The length of the mapping, or 0 when the block came from the allocator.
    private let mapped: Int

    /// Blocks of at least this many bytes are mapped (their pages come zeroed and count as
    /// resident only once written).
    static let mappedBytes = 1 << 20

    /// `count` floats, all zero.
    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        let bytes = max(1, count) * 4
        if bytes >= Self.mappedBytes, let raw = Self.map(bytes) {
            mapped = bytes
            pointer = raw.bindMemory(to: Float.self, capacity: count)
        } else {
            mapped = 0
            let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            pointer = raw.bindMemory(to: Float.self, capacity: max(1, count))
            pointer.initialize(repeating: 0, count: max(1, count))
        }
    }

    /// Zeroed, page-aligned memory from the system; nil when it refuses (the allocator then tries).
    private static func map(_ bytes: Int) -> UnsafeMutableRawPointer? {
        #if canImport(Glibc)
        let anonymous = MAP_ANONYMOUS
        #else
        let anonymous = MAP_ANON
        #endif
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | anonymous, -1, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        return p
    }

    /// A copy of `other`.
    public convenience init(copying other: FloatBuffer) {
        self.init(count: other.count)
        pointer.update(from: other.pointer, count: count)
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit {
        if mapped > 0 {
            munmap(UnsafeMutableRawPointer(pointer), mapped)
        } else {
            UnsafeMutableRawPointer(pointer).deallocate()
        }
    }

    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "buffer sizes differ")
        pointer.update(from: other.pointer, count: count)
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Bytes held, for memory accounting.
    public var byteCount: Int { count * 4 }
}
