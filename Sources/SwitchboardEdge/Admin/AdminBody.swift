import Hummingbird
import NIOCore
import SwitchboardAdapterKit

/// Reads an admin request's JSON body: an object, or nothing (taken as `{}`); anything else is 400 `bad_request`.
enum AdminBody {
    /// The largest body the admin API reads.
    static let limit = 64 * 1024

    static func read(_ request: Request) async throws -> JSONObject {
        let bytes = try await request.body.collect(upTo: Self.limit)
        if bytes.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return try! JSONObject(parsing: ByteBuffer(string: "{}"))
        }
        do {
            return try JSONObject(parsing: bytes)
        } catch {
            throw AdminError.badRequest("the body must be a JSON object: \(error.message)")
        }
    }
}
