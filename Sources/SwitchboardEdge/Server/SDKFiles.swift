import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardAdapterKit

/// Serves the JavaScript SDK packages (`sdk/js/` of the repository) at `/sdk/<package>/<file>`, read from disk on each request,
/// so a page can `import { RealtimeClient } from "/sdk/@maravilla-labs/platform/index.js"` from the edge it talks to.
///
/// Paths are checked before the file system sees them (no `..`, backslashes, empty or hidden segments), and the resolved file
/// must still lie under the resolved root, so a symlink cannot lead out of it.
struct SDKFiles {
    /// The resolved (symlink-free) SDK folder, or nil when none was found: then every `/sdk/` request is a 404.
    let root: String?

    init(root: String?) {
        self.root = root.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
    }

    func register(on router: Router<SwitchboardContext>) {
        router.get("/sdk/**") { _, context -> Response in
            self.file(segments: context.parameters.getCatchAll().map(String.init))
        }
        // A module imported from another origin is fetched with CORS; a preflight is not needed for GET, but be kind to tools.
        router.on("/sdk/**", method: .options) { _, _ -> Response in
            Response(status: .noContent, headers: Self.corsHeaders)
        }
    }

    /// The file at `segments` under the root, or 404.
    func file(segments: [String]) -> Response {
        guard let root, let relative = Self.relativePath(segments) else { return Response(status: .notFound) }
        let resolved = URL(fileURLWithPath: root + "/" + relative).resolvingSymlinksInPath().path
        var isDirectory: ObjCBool = false
        guard resolved.hasPrefix(root + "/"), FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: resolved)
        else { return Response(status: .notFound) }
        var headers = Self.corsHeaders
        headers[.contentType] = Self.contentType(of: relative)
        headers[.cacheControl] = "no-cache"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static let corsHeaders: HTTPFields = [
        .accessControlAllowOrigin: "*",
        .accessControlAllowMethods: "GET, OPTIONS",
    ]

    /// The segments joined with `/`, or nil when any is empty, hidden (`.`, `..`, `.git`), or holds a separator or NUL.
    static func relativePath(_ segments: [String]) -> String? {
        guard !segments.isEmpty else { return nil }
        for segment in segments {
            guard !segment.isEmpty, !segment.hasPrefix("."), !segment.contains("/"), !segment.contains("\\"), !segment.contains("\0")
            else { return nil }
        }
        return segments.joined(separator: "/")
    }

    static func contentType(of name: String) -> String {
        switch (name as NSString).pathExtension {
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "json", "map": "application/json; charset=utf-8"
        case "md", "txt", "ts": "text/plain; charset=utf-8"
        default: StaticFiles.contentType(of: name)
        }
    }

    /// `[server] sdk_dir` when set; else the first `sdk/js` folder found walking up from the executable (so
    /// `.build/debug/switchboard` finds the checkout's), then from the current directory; nil when there is none.
    static func locate(configured: String?, executable: String = Bundle.main.executablePath ?? CommandLine.arguments.first ?? "") -> String? {
        if let configured { return configured }
        var starts: [URL] = []
        if !executable.isEmpty {
            let url = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
            starts.append(url.deletingLastPathComponent())
        }
        starts.append(URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        for start in starts {
            var folder = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = folder.appendingPathComponent("sdk/js")
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), isDirectory.boolValue {
                    return candidate.path
                }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        return nil
    }
}
