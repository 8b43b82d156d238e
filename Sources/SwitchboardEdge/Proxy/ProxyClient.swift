import AsyncHTTPClient
import NIOCore
import ServiceLifecycle
import Synchronization

/// The reverse proxy's one HTTP client, a service so it is shut down with the edge.
///
/// Made on the first proxied request (an edge that proxies nothing opens nothing). Redirects are passed to the
/// caller, not followed; a refused connection fails at once (a 502) rather than being retried until the timeout.
final class ProxyClient: Service {
    private enum State {
        case idle
        case open(HTTPClient)
        case closed
    }

    private let state = Mutex(State.idle)
    private let configuration: HTTPClient.Configuration

    /// Creates the service with the `[proxy]` timeouts.
    init(connectTimeoutMilliseconds: Int, readTimeoutMilliseconds: Int) {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(connectTimeoutMilliseconds)), read: .milliseconds(Int64(readTimeoutMilliseconds)))
        )
        configuration.connectionPool.retryConnectionEstablishment = false
        self.configuration = configuration
    }

    /// The shared client; nil once the edge is shutting down.
    var client: HTTPClient? {
        self.state.withLock { state in
            switch state {
            case .idle:
                let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: self.configuration)
                state = .open(client)
                return client
            case .open(let client): return client
            case .closed: return nil
            }
        }
    }

    /// Waits for shutdown, then closes the client's connections.
    func run() async throws {
        try? await gracefulShutdown()
        let client = self.state.withLock { state -> HTTPClient? in
            defer { state = .closed }
            if case .open(let client) = state { return client }
            return nil
        }
        try await client?.shutdown()
    }
}
