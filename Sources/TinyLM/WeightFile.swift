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
    /// The format this build writes; a reader keeps reading every earlier one
    /// (`readableVersions`). Version 1 is the only one so far.
    public static let version: UInt32 = 1
    public static let readableVersions: ClosedRange<UInt32> = 1...version

    public static func encode(model: Transformer, tokenizer: BPETokenizer, metadata: [String: String] = [:]) -> [UInt8] {
        let json = JSONEncoder()
        json.outputFormatting = [.sortedKeys]
        var params = ByteWriter()
        params.floats(model.params.pointer, count: model.params.count)
        return SectionFile.encode(magic: magic, version: version, sections: [
            ("CONF", Array((try? json.encode(model.config)) ?? Data())),
            ("TOKN", tokenizer.serialized()),
            // The raw floats without ByteWriter's count prefix (the format predates it).
            ("PARM", Array(params.bytes.dropFirst(8))),
            ("META", Array((try? json.encode(metadata)) ?? Data())),
        ])
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
            case .notRegular, .symlinkLoop, .changedWhileReading:
                throw .unreadable(path: path, reason: error.problem)
            }
        }
        return try decode(bytes, path: path)
    }

    public static func decode(_ bytes: [UInt8], path: String = "<memory>") throws(WeightFileError) -> WeightFileContents {
        let all: [SectionFile.Section]
        do {
            all = try SectionFile.decode(bytes, magic: magic, versions: readableVersions, path: path).sections
        } catch {
            switch error {
            case .wrongKind: throw .notAWeightFile(path: path)
            case let .unsupportedVersion(_, found, supported): throw .unsupportedVersion(path: path, found: found, supported: supported)
            case let .truncated(_, detail): throw .truncated(path: path, detail: detail)
            case let .checksumMismatch(_, stored, computed): throw .checksumMismatch(path: path, stored: stored, computed: computed)
            case let .malformed(_, detail): throw .malformed(path: path, detail: detail)
            }
        }
        guard all.count <= 64 else { throw .malformed(path: path, detail: "\(all.count) sections") }
        // A repeated tag: the last one counts (as before).
        var sections: [String: ArraySlice<UInt8>] = [:]
        for section in all { sections[section.tag] = section.bytes }
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
}
