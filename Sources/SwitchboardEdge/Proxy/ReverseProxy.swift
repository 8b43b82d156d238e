import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import SwitchboardAdapterKit
import SwitchboardCore

/// Forwards requests no route claims to the app's `upstream` (or `[proxy] upstream`), streaming both bodies.
///
/// Added to the router after every route, so Hummingbird runs it only on the not-found path: adapter, admin,
/// console and WebSocket routes always win. Without an upstream the request falls through to the usual 404.
/// Only origin-form targets are forwarded (`ProxyTarget`); any other is a 400 `bad_request` and a security event.
/// The upstream URL is assembled from the configured upstream's parsed parts (`ProxyUpstream`), so no request
/// can reach a host other than the configured one.
struct ReverseProxy: RouterMiddleware {
    typealias Context = SwitchboardContext

    /// Finds the request's app and records refusals.
    let gate: Gate
    /// `[proxy] upstream` (parsed; a reload replaces it), used when the request's app has none.
    let fallbackUpstream: LiveSetting<ProxyUpstream?>
    let client: ProxyClient
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A matched route has its path set before its middleware runs: should a route ever be added after the proxy,
        // it still wins. On the not-found path nothing is set yet.
        guard context.endpointPath == nil, let configured = self.upstream(for: request) else { return try await next(request, context) }
        let target: ProxyTarget
        do {
            target = try ProxyTarget(request.head.path ?? "")
        } catch {
            self.gate.report(.badRequest, app: nil, caller: Caller(request: request, context: context), detail: "proxy: \(error.message)")
            return JSONResponse.error(.badRequest, code: "bad_request", message: error.message)
        }
        guard let upstream = configured else {
            return JSONResponse.error(.badGateway, code: "upstream_unavailable", message: "the app's upstream is not a valid http:// or https:// URL")
        }
        guard let url = upstream.url(for: target) else {
            self.gate.report(.badRequest, app: nil, caller: Caller(request: request, context: context), detail: "proxy: unusable request target")
            return JSONResponse.error(.badRequest, code: "bad_request", message: "the request target cannot be forwarded")
        }
        return try await self.forward(request, to: url, upstream: upstream, context: context)
    }

    /// The upstream of the app chosen by `Host` (else the default app), else the global one; `.some(nil)` when the
    /// app's upstream does not parse (a 502), nil when there is none (the 404 path).
    func upstream(for request: Request) -> ProxyUpstream?? {
        let apps = self.gate.apps
        let app = request.head.authority.flatMap { apps.app(host: $0) } ?? apps.defaultApp
        if let app, app.enabled, let upstream = app.upstream, !upstream.isEmpty { return .some(ProxyUpstream(upstream)) }
        return self.fallbackUpstream.current.map { .some($0) }
    }

    func forward(_ request: Request, to url: String, upstream: ProxyUpstream, context: Context) async throws -> Response {
        var outbound = HTTPClientRequest(url: url)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        let peer = context.remoteAddress
        outbound.headers = ProxyHeaders.upstreamRequest(
            request.headers,
            peerIP: peer?.ipAddress,
            trustedPeer: context.trustedProxies.trusts(peer),
            scheme: await Self.scheme(of: request, context: context),
            host: request.head.authority
        )
        let declared = request.headers[.contentLength].flatMap { Int($0) }
        let hasBody = declared.map { $0 > 0 } ?? (request.headers[.transferEncoding] != nil || !Self.bodilessMethods.contains(request.method))
        let upload = hasBody ? ProxyUpload(request.body, length: declared) : nil
        if let upload {
            outbound.body = .stream(upload, length: declared.map { .known(Int64($0)) } ?? .unknown)
        }
        let channel = context.channel
        /// Ends the upload before the handler returns; a body the client had not finished closes its input.
        @Sendable func endUpload() async {
            guard let upload, await !upload.stop() else { return }
            channel.close(mode: .input, promise: nil)
        }
        guard let client = self.client.client else {
            return JSONResponse.error(.serviceUnavailable, code: "upstream_unavailable", message: "the edge is shutting down")
        }
        let response: HTTPClientResponse
        do {
            // The read timeout of the shared client bounds each wait; the deadline only caps a stuck exchange.
            response = try await client.execute(outbound, deadline: .distantFuture, logger: self.logger)
        } catch {
            await endUpload()
            return self.failure(error, upstream: "\(upstream.scheme)://\(upstream.host):\(upstream.port)")
        }
        var headers = ProxyHeaders.clientResponse(response.headers)
        let length = response.headers.first(name: "content-length").flatMap { Int($0) }
        if length == nil { headers[.contentLength] = nil }
        let status = HTTPResponse.Status(code: Int(response.status.code), reasonPhrase: response.status.reasonPhrase)
        let body = response.body
        return Response(
            status: status,
            headers: headers,
            body: ResponseBody(contentLength: length) { writer in
                // Each upstream chunk goes out as it arrives: nothing is buffered whole. The upload ends with the
                // answer, before Hummingbird reads what is left of the client's body.
                do {
                    for try await chunk in body { try await writer.write(chunk) }
                } catch {
                    await endUpload()
                    throw error
                }
                await endUpload()
                try await writer.finish(nil)
            }
        )
    }

    /// 504 when the upstream timed out, 502 when it could not be reached or broke off.
    func failure(_ error: any Error, upstream: String) -> Response {
        let timedOut = (error as? HTTPClientError).map { [.readTimeout, .connectTimeout, .deadlineExceeded].contains($0) } ?? false
        self.logger.warning("upstream \(upstream) failed: \(error)")
        return JSONResponse.error(
            timedOut ? .gatewayTimeout : .badGateway,
            code: "upstream_unavailable",
            message: timedOut ? "the upstream did not answer in time" : "the upstream could not be reached"
        )
    }

    /// Methods whose requests carry no body unless they say so.
    static let bodilessMethods: Set<HTTPRequest.Method> = [.get, .head, .options, .delete, .trace]

    /// `https` for requests that came over TLS: HTTP/2 says so itself, HTTP/1.1 (always `http` in its head) has a TLS
    /// handler on its channel.
    static func scheme(of request: Request, context: Context) async -> String {
        if request.head.scheme == "https" { return "https" }
        let tls: Void? = try? await context.channel.pipeline.containsHandler(type: NIOSSLServerHandler.self).get()
        return tls == nil ? "http" : "https"
    }
}
