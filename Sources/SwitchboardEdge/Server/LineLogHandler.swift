import Foundation
public import Logging
import NIOCore
import Synchronization

/// `switchboard serve`'s log: every record as one line of stderr, as text (`TextLogLine`, the default) or as one JSON
/// object (`JSONLogLine`, `--log-format json`) for collectors that parse lines.
///
/// ```swift
/// LoggingSystem.bootstrap { LineLogHandler(label: $0, format: .json) }
/// ```
public struct LineLogHandler: LogHandler {
    /// How a record is written.
    public enum Format: Sendable {
        case text
        case json
    }

    /// Serializes writes, so records from several threads never interleave within a line.
    static let output = Mutex(())

    /// The logger's label.
    public let label: String
    public let format: Format
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    /// Where the lines go; stderr unless a test captures them.
    let write: @Sendable (ByteBuffer) -> Void

    /// A handler writing to stderr.
    public init(label: String, format: Format) {
        self.init(label: label, format: format) { line in
            Self.output.withLock { _ in FileHandle.standardError.write(Data(line.readableBytesView)) }
        }
    }

    init(label: String, format: Format, write: @escaping @Sendable (ByteBuffer) -> Void) {
        self.label = label
        self.format = format
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let time = Date()
        switch self.format {
        case .json: self.write(JSONLogLine.line(event: event, label: self.label, handlerMetadata: self.metadata, time: time))
        case .text: self.write(ByteBuffer(string: TextLogLine.line(event: event, label: self.label, handlerMetadata: self.metadata, time: time)))
        }
    }
}
