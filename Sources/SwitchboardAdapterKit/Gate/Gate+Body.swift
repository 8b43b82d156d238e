public import Hummingbird
public import NIOCore
public import SwitchboardCore

extension Gate {
    /// The request body when it is at most `limit` bytes; otherwise nil, after recording a `message_too_large` event.
    ///
    /// Each API then refuses in its own error shape; the body is never read past the limit.
    public func body(of request: Request, limit: Int, app: App, caller: Caller, what: String) async -> ByteBuffer? {
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            self.report(.messageTooLarge, app: app.id, caller: caller, detail: "\(what): body over \(limit) bytes")
            return nil
        }
    }
}
