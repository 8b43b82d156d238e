import Foundation

/// The build tool behind the `EmbedFiles` plugin: writes one Swift file holding every file under the given folders.
///
/// `EmbedFilesTool OUTPUT PREFIX FOLDER [PREFIX FOLDER …]` names each file by `PREFIX` plus its path inside `FOLDER`
/// (`console/index.html`, `sdk/realtime/index.js`) and stores its bytes as base64 in a string literal, which compiles
/// fast at any size (a `[UInt8]` literal of the same bytes takes the type checker minutes). A missing folder embeds
/// nothing, so a checkout without `sdk/js` still builds. Hidden files (`.DS_Store`) are left out.
@main
enum EmbedFilesTool {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.count >= 1, arguments.count % 2 == 1 else {
            FileHandle.standardError.write(Data("usage: EmbedFilesTool OUTPUT [PREFIX FOLDER]…\n".utf8))
            exit(2)
        }
        var files: [(name: String, url: URL)] = []
        for index in stride(from: 1, to: arguments.count, by: 2) {
            let folder = URL(fileURLWithPath: arguments[index + 1], isDirectory: true)
            for path in Self.files(under: folder) { files.append((arguments[index] + path, folder.appendingPathComponent(path))) }
        }
        var source = """
            // Generated at build time by EmbedFilesTool (the EmbedFiles plugin) from Public/ and sdk/js/: do not edit.

            /// Every embedded file by its path, its bytes in base64.
            enum EmbeddedFiles {
                static let base64: [String: String] = [

            """
        for file in files.sorted(by: { $0.name < $1.name }) {
            let data = try Data(contentsOf: file.url)
            source += "        \(Self.literal(file.name)): \"\(data.base64EncodedString())\",\n"
        }
        if files.isEmpty { source += "        :\n" }
        source += "    ]\n}\n"
        let output = URL(fileURLWithPath: arguments[0])
        // Rewrite only on change, so an unchanged tree recompiles nothing.
        if (try? Data(contentsOf: output)) != Data(source.utf8) { try Data(source.utf8).write(to: output, options: .atomic) }
    }

    /// Relative paths of the regular files under `folder`, hidden ones left out.
    static func files(under folder: URL) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        var paths: [String] = []
        while let path = enumerator.nextObject() as? String {
            guard !path.split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { continue }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent(path).path, isDirectory: &isDirectory), !isDirectory.boolValue {
                paths.append(path)
            }
        }
        return paths
    }

    /// `text` as a Swift string literal.
    static func literal(_ text: String) -> String {
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case _ where scalar.value < 0x20: escaped += "\\u{\(String(scalar.value, radix: 16))}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}
