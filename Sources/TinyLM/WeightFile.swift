import CPOSupport
import Foundation

/// Why a weight file could not be read or written; every case names the file and what to do.
public enum WeightFileError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    /// Larger than the limit given to `WeightFile.load` (refused before reading).
    case tooLarge(path: String, size: Int, limit: Int)
    case notAWeightFile(path: String)
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32)
    case truncated(path: String, detail: String)
    case checksumMismatch(path: String, stored: UInt32, computed: UInt32)
    case malformed(path: String, detail: String)
    case writeFailed(String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "\(path): cannot read the weight file (\(reason))."
        case let .tooLarge(path, size, limit):
            return "\(path): the weight file is \(BoundedFile.describeSize(size)), more than the limit of \(BoundedFile.describeSize(limit)). Check that this is a cpo-tui weight file; a larger model needs a larger limit."
        case let .notAWeightFile(path):
            return "\(path): not a cpo-tui weight file (wrong magic bytes). Pass a file written by cpo-tui."
        case let .unsupportedVersion(path, found, supported):
            return "\(path): weight file format version \(found) is not supported (this build reads version \(supported)). Re-create it with this version of cpo-tui."
        case let .truncated(path, detail):
            return "\(path): the weight file is truncated (\(detail)). It was probably cut off while being copied or written; use an intact copy."
        case let .checksumMismatch(path, stored, computed):
            return "\(path): the weight file is corrupted (checksum \(String(stored, radix: 16)) stored, \(String(computed, radix: 16)) computed). Use an intact copy."
        case let .malformed(path, detail):
            return "\(path): the weight file is malformed: \(detail)."
        case let .writeFailed(message):
            return message
        }
    }
}

/// A model, its tokenizer and free-form metadata, as stored in a weight file.
public struct WeightFileContents {
    public var config: ModelConfig
    public var tokenizer: BPETokenizer
    public var parameters: FloatBuffer
    public var metadata: [String: String]
}

/// The versioned binary weight format:
///
///     "CPOTLM\r\n"  magic (8 bytes)
///     u32 version   (1)
///     u32 section count
///     per section:  4-byte tag, u64 length, bytes
///                   CONF: ModelConfig as JSON   TOKN: tokenizer bytes
///                   PARM: parameters, little-endian f32   META: [String: String] as JSON
///     u32 CRC-32 of every byte before it
///
/// Little-endian integers. Unknown sections are skipped, so later versions can add some.
/// Written atomically (temporary file, fsync, rename): a reader sees the old or the new file.
public enum WeightFile {
    public static let magic: [UInt8] = Array("CPOTLM\r\n".utf8)
    public static let version: UInt32 = 1

    public static func encode(model: Transformer, tokenizer: BPETokenizer, metadata: [String: String] = [:]) -> [UInt8] {
        var out = magic
        append(&out, version)
        append(&out, UInt32(4))
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys]
        section(&out, "CONF", Array((try? json.encode(model.config)) ?? Data()))
        section(&out, "TOKN", tokenizer.serialized())
        let params = UnsafeRawBufferPointer(start: model.params.pointer, count: model.params.count * 4)
        section(&out, "PARM", littleEndianFloats(params))
        section(&out, "META", Array((try? json.encode(metadata)) ?? Data()))
        let crc = out.withUnsafeBytes { CRC32.update(0, $0) }
        append(&out, crc)
        return out
    }

    public static func save(model: Transformer, tokenizer: BPETokenizer, metadata: [String: String] = [:],
                            to path: String) throws(WeightFileError) {
        do {
            try AtomicFile.write(encode(model: model, tokenizer: tokenizer, metadata: metadata), to: path)
        } catch {
            throw .writeFailed(error.description)
        }
    }

    /// Weight files larger than this are refused by `load` unless a larger limit is given (lab
    /// models are a few MB, so this leaves room for models a thousand times larger).
    public static let defaultMaxBytes = 4 << 30

    /// Reads and decodes a weight file. A file larger than `maxBytes` is refused from its size,
    /// without being read.
    public static func load(path: String, maxBytes: Int = defaultMaxBytes) throws(WeightFileError) -> WeightFileContents {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path: path, maxBytes: maxBytes)
        } catch {
            switch error {
            case .notFound: throw .unreadable(path: path, reason: "no such file")
            case .isDirectory: throw .unreadable(path: path, reason: "it is a directory")
            case let .tooLarge(_, size, limit): throw .tooLarge(path: path, size: size, limit: limit)
            case .cannotAccess(_, let reason), .cannotOpen(_, let reason), .readFailed(_, let reason):
                throw .unreadable(path: path, reason: reason)
            }
        }
        return try decode(bytes, path: path)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws(WeightFileError) -> WeightFileContents {
        if bytes.count < magic.count || Array(bytes[0..<magic.count]) != magic {
            if bytes.count < magic.count && bytes == Array(magic.prefix(bytes.count)) {
                throw .truncated(path: path, detail: "\(bytes.count) bytes")
            }
            throw .notAWeightFile(path: path)
        }
        var r = Reader(bytes: bytes, offset: magic.count, path: path)
        let ver = try r.u32("version")
        guard ver == version else { throw .unsupportedVersion(path: path, found: ver, supported: version) }
        let count = try r.u32("section count")
        guard count <= 64 else { throw .malformed(path: path, detail: "\(count) sections") }
        var sections: [String: ArraySlice<UInt8>] = [:]
        for _ in 0..<count {
            let tag = SectionFile.printableTag(try r.take(4, "section tag"))
            let len = try r.u64("length of section \(tag)")
            guard len <= UInt64(bytes.count) else {
                throw .truncated(path: path, detail: "section \(tag) claims \(len) bytes, the file has \(bytes.count)")
            }
            sections[tag] = try r.take(Int(len), "section \(tag)")
        }
        let payloadEnd = r.offset
        let stored = try r.u32("checksum")
        let computed = bytes.withUnsafeBytes { CRC32.update(0, UnsafeRawBufferPointer(rebasing: $0[0..<payloadEnd])) }
        guard stored == computed else { throw .checksumMismatch(path: path, stored: stored, computed: computed) }
        guard r.offset == bytes.count else {
            throw .malformed(path: path, detail: "\(bytes.count - r.offset) unexpected bytes after the checksum")
        }
        guard let conf = sections["CONF"], let tok = sections["TOKN"], let parm = sections["PARM"] else {
            throw .malformed(path: path, detail: "a required section (CONF, TOKN or PARM) is missing")
        }
        let config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: Data(conf))
            try config.validate()
        } catch {
            throw .malformed(path: path, detail: "model configuration: \(error)")
        }
        let tokenizer: BPETokenizer
        do {
            tokenizer = try BPETokenizer(serialized: Array(tok))
        } catch {
            throw .malformed(path: path, detail: "tokenizer: \(error)")
        }
        guard tokenizer.vocabSize <= config.vocabSize else {
            throw .malformed(path: path, detail: "the tokenizer has \(tokenizer.vocabSize) tokens, the model only \(config.vocabSize)")
        }
        let expected = ParameterLayout(config).count
        guard parm.count == expected * 4 else {
            throw .malformed(path: path, detail: "\(parm.count / 4) parameters stored, the configuration needs \(expected)")
        }
        let params = FloatBuffer(count: expected)
        parm.withUnsafeBytes { raw in
            for i in 0..<expected {
                params.pointer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        }
        var metadata: [String: String] = [:]
        if let meta = sections["META"], !meta.isEmpty {
            guard let m = try? JSONDecoder().decode([String: String].self, from: Data(meta)) else {
                throw .malformed(path: path, detail: "metadata is not a JSON object of strings")
            }
            metadata = m
        }
        return WeightFileContents(config: config, tokenizer: tokenizer, parameters: params, metadata: metadata)
    }

    private static func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func section(_ out: inout [UInt8], _ tag: String, _ bytes: [UInt8]) {
        out.append(contentsOf: Array(tag.utf8.prefix(4)))
        append(&out, UInt64(bytes.count))
        out.append(contentsOf: bytes)
    }

    private static func littleEndianFloats(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: raw.count)
        let n = raw.count / 4
        out.withUnsafeMutableBytes { dst in
            for i in 0..<n {
                let bits = raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian
                dst.storeBytes(of: bits, toByteOffset: i * 4, as: UInt32.self)
            }
        }
        return out
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset: Int
        let path: String

        mutating func take(_ n: Int, _ what: String) throws(WeightFileError) -> ArraySlice<UInt8> {
            guard n >= 0, n <= bytes.count - offset else {
                throw .truncated(path: path, detail: "ends inside the \(what) at byte \(bytes.count)")
            }
            defer { offset += n }
            return bytes[offset..<(offset + n)]
        }

        mutating func u32(_ what: String) throws(WeightFileError) -> UInt32 {
            let s = try take(4, what)
            return s.reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func u64(_ what: String) throws(WeightFileError) -> UInt64 {
            let s = try take(8, what)
            return s.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
    }
}
