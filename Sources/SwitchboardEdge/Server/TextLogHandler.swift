import Foundation
public import Logging
import Synchronization

/// `switchboard serve` (`--log-format text`): swift-log's stream line, `<time> <level> <label>: key=value … [source]
/// message`, with metadata written as logfmt.
///
/// A value holding a space, `"`, `=` or `\` is quoted, with `"` and `\` escaped, so a string a client chose (a refused
/// key, an origin) reads as one value and cannot pose as a field of its own: `detail="no app with key x ip=6.6.6.6"`.
///
/// ```swift
/// LoggingSystem.bootstrap { TextLogHandler(label: $0) }
/// ```
public struct TextLogHandler: LogHandler {
    /// Serializes writes, so records from several threads never interleave within a line.
    static let output = Mutex(())

    /// The logger's label.
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    /// Where the lines go; stderr unless a test captures them.
    let write: @Sendable (String) -> Void

    /// A handler writing to stderr.
    public init(label: String) {
        self.init(label: label) { line in
            Self.output.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
        }
    }

    init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        self.write(Self.line(event: event, label: self.label, handlerMetadata: self.metadata, time: Date()))
    }

    /// One record, newline included.
    static func line(event: LogEvent, label: String, handlerMetadata: Logger.Metadata, time: Date) -> String {
        var line = "\(JSONLogHandler.timestamp(time)) \(event.level) \(label):"
        let metadata = handlerMetadata.merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(Self.quoted(value.description))"
        }
        line += " [\(event.source)] \(event.message)\n"
        return line
    }

    /// `text` as a logfmt value: as it is when it holds nothing that would end or fake a field, else quoted.
    static func quoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" }
        guard !plain else { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
