import Foundation
import Logging
import NIOCore
import SwitchboardAdapterKit

/// `--log-format json`: a record as one JSON object on one line, for collectors that parse lines (journald, Loki,
/// CloudWatch) without a regular expression.
///
/// `{"time":"2026-12-04T12:00:00.123Z","level":"warning","label":"switchboard","message":"…","metadata":{"file":"…"}}`;
/// metadata values are strings, arrays and objects as swift-log holds them.
package enum JSONLogLine {
    /// One record, newline included.
    static func line(event: LogEvent, label: String, handlerMetadata: Logger.Metadata, time: Date) -> ByteBuffer {
        var json = JSONWriter(capacity: 256)
        json.beginObject()
        json.key("time")
        json.string(Self.timestamp(time))
        json.key("level")
        json.string(event.level.rawValue)
        json.key("label")
        json.string(label)
        json.key("message")
        json.string(event.message.description)
        json.key("source")
        json.string(event.source)
        let metadata = handlerMetadata.merging(event.metadata ?? [:]) { _, new in new }
        if !metadata.isEmpty {
            json.key("metadata")
            Self.write(.dictionary(metadata), to: &json)
        }
        json.endObject()
        var line = json.buffer
        line.writeInteger(UInt8(ascii: "\n"))
        return line
    }

    static func write(_ value: Logger.Metadata.Value, to json: inout JSONWriter) {
        switch value {
        case .string(let text): json.string(text)
        case .stringConvertible(let value): json.string(value.description)
        case .array(let values):
            json.beginArray()
            for value in values { Self.write(value, to: &json) }
            json.endArray()
        case .dictionary(let entries):
            json.beginObject()
            for (key, value) in entries.sorted(by: { $0.key < $1.key }) {
                json.key(key)
                Self.write(value, to: &json)
            }
            json.endObject()
        }
    }

    /// The current time as records write it, for lines written beside the log (the JSON start-up banner).
    package static var now: String { Self.timestamp(Date()) }

    /// RFC 3339 in UTC with milliseconds.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            Int(parts.tm_year) + 1900,
            Int(parts.tm_mon) + 1,
            Int(parts.tm_mday),
            Int(parts.tm_hour),
            Int(parts.tm_min),
            Int(parts.tm_sec),
            Int(milliseconds % 1000)
        )
    }
}
