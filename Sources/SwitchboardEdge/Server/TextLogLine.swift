import Foundation
import Logging

/// `--log-format text` (the default): swift-log's stream line, `<time> <level> <label>: key=value … [source] message`,
/// with metadata written as logfmt.
///
/// A value holding a space, `"`, `=` or `\` is quoted, with `"` and `\` escaped, so a string a client chose (a refused
/// key, an origin) reads as one value and cannot pose as a field of its own: `detail="no app with key x ip=6.6.6.6"`.
enum TextLogLine {
    /// One record, newline included.
    static func line(event: LogEvent, label: String, handlerMetadata: Logger.Metadata, time: Date) -> String {
        var line = "\(JSONLogLine.timestamp(time)) \(event.level) \(label):"
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
