public import HTTPTypes
public import HummingbirdWebSocket

/// A client's permessage-deflate offer (RFC 7692) that the edge can accept, and the response accepting it.
///
/// The edge always answers with `server_no_context_takeover`: each server message is its own deflate
/// stream, which is what lets one broadcast be deflated once for every subscriber. It deflates with a
/// 15-bit window, so it declines offers that cap `server_max_window_bits` lower, and offers with
/// parameters it does not know (RFC 7692 §5.1); the client then gets plain frames.
public struct PerMessageDeflateOffer: Sendable, Equatable {
    /// The extension's registered name.
    public static let name = "permessage-deflate"

    /// The client said it resets its compression context after every message.
    public var clientNoContextTakeover: Bool

    /// Reads one offer; nil when it is not permessage-deflate or cannot be accepted as is.
    public init?(_ offer: WebSocketExtensionHTTPParameters) {
        // Compared as the WebSocket library does (exactly), so both agree on which offer was taken.
        guard offer.name == Self.name else { return nil }
        var clientNoContextTakeover = false
        for (key, value) in offer.parameters {
            switch (key.lowercased(), value) {
            case ("server_no_context_takeover", .null): break
            case ("client_no_context_takeover", .null): clientNoContextTakeover = true
            case ("server_max_window_bits", .value): guard value.integer == 15 else { return nil }
            case ("client_max_window_bits", .null): break
            case ("client_max_window_bits", .value): guard let bits = value.integer, (8...15).contains(bits) else { return nil }
            default: return nil
            }
        }
        self.clientNoContextTakeover = clientNoContextTakeover
    }

    /// The first acceptable offer among a request's `Sec-WebSocket-Extensions`, or nil.
    public static func first(in headers: HTTPFields) -> Self? {
        for offer in WebSocketExtensionHTTPParameters.parseHeaders(headers) {
            if let accepted = Self(offer) { return accepted }
        }
        return nil
    }

    /// The `Sec-WebSocket-Extensions` value that accepts this offer.
    ///
    /// The server never limits the client's window: it inflates with the largest one, whatever the client uses.
    public var response: String {
        Self.name + "; server_no_context_takeover" + (self.clientNoContextTakeover ? "; client_no_context_takeover" : "")
    }
}
