import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardAdapterKit

/// Serves the JavaScript SDK packages (`sdk/js/` of the repository) at `/sdk/<package>/<file>`, so a page can
/// `import { RealtimeClient } from "/sdk/@maravilla-labs/platform/index.js"` from the edge it talks to (CORS `*`).
///
/// The files come from the copy embedded in the binary at build time (the `EmbedFiles` plugin), or, with `[server] sdk_dir`,
/// from that folder, read on each request (for SDK development or a site's own builds). Paths are checked before the file
/// system sees them (no `..`, backslashes, empty or hidden segments), and a file read from disk must still lie under the
/// resolved folder, so a symlink cannot lead out of it.
struct SDKFiles {
    /// The resolved (symlink-free) `sdk_dir`, or nil to serve the embedded copy.
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

    /// The file at `segments`, or 404.
    func file(segments: [String]) -> Response {
        guard let relative = Self.relativePath(segments), let bytes = self.bytes(at: relative) else { return Response(status: .notFound) }
        var headers = Self.corsHeaders
        headers[.contentType] = Self.contentType(of: relative)
        headers[.cacheControl] = "no-cache"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: bytes))
    }

    /// The bytes at `relative`: from `sdk_dir` when set (never through a symlink out of it), else the embedded copy.
    func bytes(at relative: String) -> ByteBuffer? {
        guard let root else { return EmbeddedFiles.file(at: "sdk/" + relative) }
        let resolved = URL(fileURLWithPath: root + "/" + relative).resolvingSymlinksInPath().path
        var isDirectory: ObjCBool = false
        guard resolved.hasPrefix(root + "/"), FileManager.default.fileExists(atPath: resolved, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: resolved)
        else { return nil }
        return ByteBuffer(bytes: data)
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
}
