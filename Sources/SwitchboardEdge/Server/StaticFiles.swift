import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardAdapterKit
import SwitchboardCore

/// Serves the pages shipped with the edge, embedded in the binary (`EmbeddedFiles`): `/examples/chat.html` and the operator
/// console at `/console` (no token needed for the page itself; everything it shows comes from the admin API).
struct StaticFiles {
    func register(on router: Router<SwitchboardContext>) {
        router.get("/examples/:file") { _, context -> Response in
            self.file(context.parameters.get("file"), in: "examples")
        }
        // The router ignores a trailing slash, so this serves `/console/` too.
        router.get("/console") { _, _ -> Response in self.file("index.html", in: "console", headers: Self.consoleHeaders) }
        router.get("/console/:file") { _, context -> Response in
            let name = context.parameters.get("file")
            if name == "security-kinds.js" { return Self.securityKinds }
            return self.file(name, in: "console", headers: Self.consoleHeaders)
        }
    }

    /// The file `name` of the resource folder `folder`, or 404; names with a path separator or `..` are refused.
    func file(_ name: String?, in folder: String, headers extra: HTTPFields = [:]) -> Response {
        guard let name, !name.isEmpty, !name.contains(".."), !name.contains("/"), let data = EmbeddedFiles.file(at: "\(folder)/\(name)")
        else { return Response(status: .notFound) }
        return Self.response(data, named: name, headers: extra)
    }

    /// `data` served as the file `name`.
    static func response(_ data: ByteBuffer, named name: String, headers extra: HTTPFields) -> Response {
        var headers = extra
        headers[.contentType] = Self.contentType(of: name)
        // The console changes with the binary; a browser must not keep an old script next to a new API.
        headers[.cacheControl] = "no-cache"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: data))
    }

    /// `export const SECURITY_KINDS = [...]`, written from `SecurityEvent.Kind.all`: the console's filter and alert form
    /// offer every kind the server records, with no list of their own to fall behind.
    static let securityKinds: Response = {
        let names = SecurityEvent.Kind.all.map { "\"\($0.name)\"" }.joined(separator: ", ")
        let module = ByteBuffer(string: "export const SECURITY_KINDS = [\(names)];\n")
        return Self.response(module, named: "security-kinds.js", headers: Self.consoleHeaders)
    }()

    /// The console holds the admin token: it runs only its own files, is never framed, and sends no referrer.
    static let consoleHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
    ]

    static func contentType(of name: String) -> String {
        switch (name as NSString).pathExtension {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        default: "application/octet-stream"
        }
    }
}
