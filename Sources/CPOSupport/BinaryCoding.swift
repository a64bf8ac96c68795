import Foundation

/// Appends little-endian numbers, arrays and strings to a byte array: the body of one section
/// of a `SectionFile`. Every array is stored as a u64 count followed by its elements, so a
/// `ByteReader` can check a count against the bytes left before allocating anything.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Bytes as they are, without a count (magic numbers, fixed-size fields).
    public mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func int(_ v: Int) { u64(UInt64(bitPattern: Int64(v))) }
    public mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
    /// Bit patterns: NaN payloads and signed zeros survive.
    public mutating func double(_ v: Double) { u64(v.bitPattern) }
    public mutating func float(_ v: Float) { u32(v.bitPattern) }

    public mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        int(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    public mutating func blob(_ b: [UInt8]) {
        int(b.count)
        bytes.append(contentsOf: b)
    }

    public mutating func doubles(_ a: [Double]) {
        int(a.count)
        bytes.reserveCapacity(bytes.count + 8 * a.count)
        for v in a { double(v) }
    }

    public mutating func bools(_ a: [Bool]) {
        int(a.count)
        for v in a { bool(v) }
    }

    public mutating func floats(_ p: UnsafePointer<Float>, count: Int) {
        int(count)
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 4 * count))
        bytes.withUnsafeMutableBytes { dst in
            for i in 0..<count { dst.storeBytes(of: p[i].bitPattern.littleEndian, toByteOffset: start + 4 * i, as: UInt32.self) }
        }
    }

    public mutating func int32s(_ a: [Int32]) {
        int(a.count)
        for v in a { u32(UInt32(bitPattern: v)) }
    }

    /// Token sequences: a count, then each sequence as `int32s`.
    public mutating func sequences(_ s: [[Int32]]) {
        int(s.count)
        for seq in s { int32s(seq) }
    }
}

/// Why bytes could not be read back; `what` names the field.
public enum ByteReaderError: Error, CustomStringConvertible, Equatable {
    case truncated(what: String)
    case malformed(what: String, detail: String)

    public var description: String {
        switch self {
        case .truncated(let what): return "the data ends inside \(what)"
        case let .malformed(what, detail): return "\(what): \(detail)"
        }
    }
}

/// Reads what a `ByteWriter` wrote, checking every length against the bytes left, so hostile
/// or truncated input ends in an error rather than a crash or a huge allocation.
public struct ByteReader {
    public let bytes: ArraySlice<UInt8>
    public private(set) var offset: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    public init(_ bytes: [UInt8]) { self.init(bytes[...]) }

    public var remaining: Int { bytes.endIndex - offset }
    public var isAtEnd: Bool { offset == bytes.endIndex }

    public mutating func take(_ n: Int, _ what: String) throws(ByteReaderError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw .truncated(what: what) }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    public mutating func u8(_ what: String) throws(ByteReaderError) -> UInt8 { try take(1, what).first! }

    public mutating func u16(_ what: String) throws(ByteReaderError) -> UInt16 {
        try take(2, what).reversed().reduce(0) { $0 << 8 | UInt16($1) }
    }

    public mutating func u32(_ what: String) throws(ByteReaderError) -> UInt32 {
        try take(4, what).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    public mutating func u64(_ what: String) throws(ByteReaderError) -> UInt64 {
        try take(8, what).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    public mutating func int(_ what: String) throws(ByteReaderError) -> Int { Int(Int64(bitPattern: try u64(what))) }

    public mutating func bool(_ what: String) throws(ByteReaderError) -> Bool {
        switch try u8(what) {
        case 0: return false
        case 1: return true
        case let b: throw .malformed(what: what, detail: "\(b) is not a boolean")
        }
    }

    public mutating func double(_ what: String) throws(ByteReaderError) -> Double { Double(bitPattern: try u64(what)) }
    public mutating func float(_ what: String) throws(ByteReaderError) -> Float { Float(bitPattern: try u32(what)) }

    /// An element count, refused when `elementSize` bytes each would not fit in what is left.
    public mutating func count(_ what: String, elementSize: Int) throws(ByteReaderError) -> Int {
        let n = try int("the length of \(what)")
        guard n >= 0 else { throw .malformed(what: what, detail: "negative length \(n)") }
        guard elementSize == 0 || n <= remaining / elementSize else { throw .truncated(what: what) }
        return n
    }

    public mutating func string(_ what: String) throws(ByteReaderError) -> String {
        let n = try count(what, elementSize: 1)
        let b = try take(n, what)
        guard let s = String(validating: b, as: UTF8.self) else { throw .malformed(what: what, detail: "not valid UTF-8") }
        return s
    }

    public mutating func blob(_ what: String) throws(ByteReaderError) -> ArraySlice<UInt8> {
        try take(try count(what, elementSize: 1), what)
    }

    public mutating func doubles(_ what: String) throws(ByteReaderError) -> [Double] {
        let n = try count(what, elementSize: 8)
        var out: [Double] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try double(what)) }
        return out
    }

    public mutating func bools(_ what: String) throws(ByteReaderError) -> [Bool] {
        let n = try count(what, elementSize: 1)
        var out: [Bool] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try bool(what)) }
        return out
    }

    /// Floats into `destination`, which must hold exactly as many as were written.
    public mutating func floats(into destination: UnsafeMutablePointer<Float>, count expected: Int, _ what: String) throws(ByteReaderError) {
        let n = try count(what, elementSize: 4)
        guard n == expected else { throw .malformed(what: what, detail: "\(n) values stored, \(expected) expected") }
        let raw = try take(4 * n, what)
        raw.withUnsafeBytes { src in
            for i in 0..<n {
                destination[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        }
    }

    public mutating func int32s(_ what: String) throws(ByteReaderError) -> [Int32] {
        let n = try count(what, elementSize: 4)
        var out: [Int32] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(Int32(bitPattern: try u32(what))) }
        return out
    }

    public mutating func sequences(_ what: String) throws(ByteReaderError) -> [[Int32]] {
        let n = try count(what, elementSize: 8)
        var out: [[Int32]] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try int32s(what)) }
        return out
    }
}

/// Why a section file could not be read; `SectionFile.decode` reports the first problem.
public enum SectionFileError: Error, CustomStringConvertible, Equatable {
    case wrongKind(path: String)
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32)
    case truncated(path: String, detail: String)
    case checksumMismatch(path: String, stored: UInt32, computed: UInt32)
    case malformed(path: String, detail: String)

    public var description: String {
        switch self {
        case .wrongKind(let path): return "\(path): not the expected kind of file (wrong magic bytes)"
        case let .unsupportedVersion(path, found, supported):
            return "\(path): format version \(found) is not supported (this build reads version \(supported))"
        case let .truncated(path, detail): return "\(path): the file is truncated (\(detail))"
        case let .checksumMismatch(path, stored, computed):
            return "\(path): the file is corrupted (checksum \(String(stored, radix: 16)) stored, \(String(computed, radix: 16)) computed)"
        case let .malformed(path, detail): return "\(path): the file is malformed: \(detail)"
        }
    }
}

/// The container of cpo-tui's binary files (weights, run checkpoints):
///
///     magic         8 bytes naming the kind of file
///     u32 version
///     u32 section count
///     per section:  4-byte tag, u64 length, bytes
///     u32 CRC-32 of every byte before it
///
/// Little-endian. A tag may repeat (one section per method, say); readers skip tags they do
/// not know, so later versions can add sections.
public enum SectionFile {
    public struct Section {
        public var tag: String
        public var bytes: ArraySlice<UInt8>
    }

    /// Length of the magic that names the kind of file.
    static let magicLength = 8
    /// Length of a section tag.
    static let tagLength = 4
    /// Bytes before each section's body: the tag and the u64 length.
    static let sectionHeaderBytes = tagLength + 8
    /// The trailing CRC-32.
    static let checksumBytes = 4
    /// A file claiming more sections than this is refused as malformed (a checkpoint has a
    /// few dozen).
    static let maxSections: UInt32 = 4096

    /// A tag as text fit for a message: printable ASCII kept, every other byte as \xNN (a
    /// damaged file must not put control characters on the user's terminal).
    public static func printableTag(_ bytes: some Collection<UInt8>) -> String { Hex.printable(bytes) }

    public static func encode(magic: [UInt8], version: UInt32, sections: [(tag: String, bytes: [UInt8])]) -> [UInt8] {
        let size = magicLength + 4 + 4 /* version, section count */ + sections.reduce(0) { $0 + sectionHeaderBytes + $1.bytes.count } + checksumBytes
        var w = ByteWriter(capacity: size)
        encode(magic: magic, version: version, sectionCount: sections.count, section: { sections[$0] }, emit: { w.raw($0) })
        return w.bytes
    }

    /// The same file piece by piece, for a writer that need not hold all of it: the header, then
    /// each section as `section(i)` makes it (so one is in memory at a time), then the checksum,
    /// each handed to `emit` in file order.
    public static func encode<E: Error>(magic: [UInt8], version: UInt32, sectionCount: Int,
                                        section: (Int) -> (tag: String, bytes: [UInt8]),
                                        emit: ([UInt8]) throws(E) -> Void) throws(E) {
        precondition(magic.count == magicLength, "8-byte magic")
        var crc: UInt32 = 0
        func put(_ bytes: [UInt8]) throws(E) {
            crc = bytes.withUnsafeBytes { CRC32.update(crc, $0) }
            try emit(bytes)
        }
        var header = ByteWriter()
        header.raw(magic)
        header.u32(version)
        header.u32(UInt32(sectionCount))
        try put(header.bytes)
        for i in 0..<sectionCount {
            let s = section(i)
            precondition(s.tag.utf8.count == tagLength, "4-byte tags")
            var h = ByteWriter()
            h.raw(Array(s.tag.utf8))
            h.u64(UInt64(s.bytes.count))
            try put(h.bytes)
            try put(s.bytes)
        }
        var end = ByteWriter()
        end.u32(crc)
        try emit(end.bytes)
    }

    /// The sections in file order, after checking the magic, the version, every length and the
    /// checksum.
    public static func decode(_ bytes: [UInt8], magic: [UInt8], version: UInt32, path: String) throws(SectionFileError) -> [Section] {
        try decode(bytes, magic: magic, versions: version...version, path: path).sections
    }

    /// The file's version and its sections, for a reader of every version in `versions` (a
    /// format's readers keep reading its earlier versions). A version outside the range is
    /// `unsupportedVersion` with `supported` the newest one read.
    public static func decode(_ bytes: [UInt8], magic: [UInt8], versions: ClosedRange<UInt32>,
                              path: String) throws(SectionFileError) -> (version: UInt32, sections: [Section]) {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            if bytes.count < magic.count && bytes == Array(magic.prefix(bytes.count)) {
                throw .truncated(path: path, detail: "\(bytes.count) bytes")
            }
            throw .wrongKind(path: path)
        }
        var r = ByteReader(bytes[magic.count...])
        func read<T>(_ body: (inout ByteReader) throws(ByteReaderError) -> T) throws(SectionFileError) -> T {
            do { return try body(&r) } catch {
                switch error {
                case .truncated(let what): throw .truncated(path: path, detail: "it ends inside \(what) at byte \(bytes.count)")
                case let .malformed(what, detail): throw .malformed(path: path, detail: "\(what): \(detail)")
                }
            }
        }
        let found = try read { r throws(ByteReaderError) in try r.u32("the version") }
        guard versions.contains(found) else { throw .unsupportedVersion(path: path, found: found, supported: versions.upperBound) }
        let count = try read { r throws(ByteReaderError) in try r.u32("the section count") }
        guard count <= maxSections else { throw .malformed(path: path, detail: "\(count) sections") }
        var sections: [Section] = []
        for _ in 0..<count {
            let tagBytes = try read { r throws(ByteReaderError) in try r.take(tagLength, "a section tag") }
            let tag = printableTag(tagBytes)
            let length = try read { r throws(ByteReaderError) in try r.u64("the length of section \(tag)") }
            guard length <= UInt64(r.remaining) else {
                throw .truncated(path: path, detail: "section \(tag) claims \(length) bytes, \(r.remaining) are left")
            }
            sections.append(Section(tag: tag, bytes: try read { r throws(ByteReaderError) in try r.take(Int(length), "section \(tag)") }))
        }
        let payloadEnd = r.offset
        let stored = try read { r throws(ByteReaderError) in try r.u32("the checksum") }
        let computed = bytes.withUnsafeBytes { CRC32.update(0, UnsafeRawBufferPointer(rebasing: $0[0..<payloadEnd])) }
        guard stored == computed else { throw .checksumMismatch(path: path, stored: stored, computed: computed) }
        guard r.isAtEnd else { throw .malformed(path: path, detail: "\(r.remaining) unexpected bytes after the checksum") }
        return (found, sections)
    }
}
