import Foundation
import Hummingbird
import SwitchboardAdapterKit
import SwitchboardCore

/// `GET|POST|DELETE /api/realtime/blocks`: addresses and ranges blocked at runtime, beside `[server] blocked_addresses`.
///
/// - `POST {"address": "203.0.113.7" | "203.0.113.0/24", "reason": "…", "expiresIn": 3600}` blocks it (201, or 200 when
///   it replaces a block of the same range) and ends the connections open from it; `expiresIn` (seconds) is optional.
/// - `DELETE ?address=…` or `{"address": …}` lifts it (404 when the admin API holds no such block).
/// - `GET` answers `{"blocks": [{address, reason, createdAt, expiresAt}], "configured": ["…"]}`.
///
/// A block that would cover the address the request comes from is refused: it would lock the operator out. With Redis,
/// every node applies a change.
struct AddressBlockRoutes: Sendable {
    let blocks: AddressBlocks
    let authorized: AdminAuthorization
    /// Carries changes to the other nodes (Redis engine only).
    let sync: LiveSettingsSync?

    func register(on router: Router<SwitchboardContext>) {
        router.get("/api/realtime/blocks") { request, context in
            try await self.authorized(request, context) { self.list() }
        }
        router.post("/api/realtime/blocks") { request, context in
            try await self.authorized(request, context) {
                let block = try Self.block(try await LiveConfigRoutes.body(request, members: ["address", "reason", "expiresIn"]))
                let caller = Caller(request: request, context: context)
                if AddressRanges(networks: [block.network]).contains(client: caller.ip, proxy: caller.proxy) {
                    let own = [caller.ip, caller.proxy].compactMap { $0 }.joined(separator: " or ")
                    throw AdminError.badRequest("\(block.network) holds \(own), where this request comes from: it would lock you out")
                }
                let replaced = self.blocks.block(block.network) != nil
                guard self.blocks.hasRoom(for: block.network) else {
                    throw AdminError.conflict("at most \(self.blocks.maxBlocks) addresses can be blocked; lift some first")
                }
                try await self.change(block.network, to: block)
                return LiveConfigRoutes.response(.object(["block": Self.value(block)]), status: replaced ? .ok : .created)
            }
        }
        router.delete("/api/realtime/blocks") { request, context in
            try await self.authorized(request, context) {
                let text: String?
                if let query = request.uri.queryParameters["address"] {
                    text = String(query)
                } else if case .string(let address)? = try await LiveConfigRoutes.body(request, members: ["address"])["address"] {
                    text = address
                } else {
                    text = nil
                }
                guard let text else { throw AdminError.badRequest("address is required: {\"address\": \"203.0.113.7\"} or ?address=") }
                let network = try Self.network(text)
                guard self.blocks.block(network) != nil else {
                    throw AdminError.notFound("\(network) is not blocked through the admin API (see GET /api/realtime/blocks)")
                }
                try await self.change(network, to: nil)
                return LiveConfigRoutes.response(.object(["lifted": .string(network.description)]))
            }
        }
    }

    /// Puts `block` in force for `network` (nil lifts it) on every node, or answers 503 with nothing changed.
    func change(_ network: IPNetwork, to block: AddressBlocks.Block?) async throws {
        do {
            try await self.blocks.change(network, to: block, sharing: self.sync)
        } catch let error as EngineUnavailable {
            throw AdminError(
                status: .serviceUnavailable,
                code: "engine_unavailable",
                message: "Redis cannot be reached, so the block cannot reach every node; nothing changed (\(error.reason))"
            )
        }
    }

    func list() -> Response {
        LiveConfigRoutes.response(
            .object([
                "blocks": .array(self.blocks.blocks().map(Self.value)),
                "configured": .array(self.blocks.configured.networks.map { .string($0.description) }),
            ])
        )
    }

    /// A block as the API shows it.
    static func value(_ block: AddressBlocks.Block) -> JSONValue {
        .object(Self.fields(block).merging(["address": .string(block.network.description)]) { _, new in new })
    }

    /// What a cluster's document holds for a block (its range is the document's field).
    static func fields(_ block: AddressBlocks.Block) -> [String: JSONValue] {
        [
            "reason": .string(block.reason),
            "createdAt": .integer(block.createdAt),
            "expiresAt": block.expiresAt.map(JSONValue.integer) ?? .null,
        ]
    }

    /// A cluster's document for a block, or for lifting `lifted` when `block` is nil: `{"lifted": true, "expiresAt": …}`, a
    /// tombstone that tells a node that was away to forget the block, until the block would have expired anyway.
    static func document(_ block: AddressBlocks.Block?, lifting lifted: AddressBlocks.Block?) -> String {
        guard let block else {
            return JSONValue.object(["lifted": .bool(true), "expiresAt": lifted?.expiresAt.map(JSONValue.integer) ?? .null]).text
        }
        return JSONValue.object(Self.fields(block)).text
    }

    /// When a cluster's block document (a block or its tombstone) is spent: its block's expiry; nil when it never is.
    static func expiry(document: String) -> Int64? {
        guard case .object(let fields)? = try? JSONValue.parse(Data(document.utf8)), case .integer(let at)? = fields["expiresAt"] else { return nil }
        return at
    }

    /// Reads a cluster's document for `network`; nil for a tombstone (`{"lifted": true, …}`, or `{}`): the block was lifted.
    static func block(document: String, network: IPNetwork) throws -> AddressBlocks.Block? {
        guard case .object(let fields) = try JSONValue.parse(Data(document.utf8)) else { throw AdminError.badRequest("not an object") }
        guard !fields.isEmpty, fields["lifted"] != .bool(true) else { return nil }
        guard case .string(let reason)? = fields["reason"], case .integer(let createdAt)? = fields["createdAt"] else {
            throw AdminError.badRequest("a block needs reason and createdAt")
        }
        let expiresAt: Int64?
        switch fields["expiresAt"] {
        case .integer(let at)?: expiresAt = at
        case .null?, nil: expiresAt = nil
        default: throw AdminError.badRequest("expiresAt must be an integer or null")
        }
        return AddressBlocks.Block(network: network, reason: reason, createdAt: createdAt, expiresAt: expiresAt)
    }

    /// The block a POST body asks for, checked.
    static func block(_ body: [String: JSONValue], now: Int64 = WallClock.milliseconds()) throws -> AddressBlocks.Block {
        guard case .string(let address)? = body["address"] else {
            throw AdminError.badRequest("address is required: {\"address\": \"203.0.113.7\"} or a range such as \"203.0.113.0/24\"")
        }
        let network = try Self.network(address)
        var reason = ""
        switch body["reason"] {
        case .string(let text)?:
            guard text.count <= AddressBlocks.maxReasonCharacters else {
                throw AdminError.badRequest("reason must be at most \(AddressBlocks.maxReasonCharacters) characters")
            }
            reason = text
        case .null?, nil: break
        default: throw AdminError.badRequest("reason must be a string")
        }
        var expiresAt: Int64?
        switch body["expiresIn"] {
        case .integer(let seconds)? where (1...AddressBlocks.maxLifetimeSeconds).contains(seconds):
            expiresAt = now + seconds * 1000
        case .null?, nil: break
        default: throw AdminError.badRequest("expiresIn must be a whole number of seconds from 1 to \(AddressBlocks.maxLifetimeSeconds)")
        }
        return AddressBlocks.Block(network: network, reason: reason, createdAt: now, expiresAt: expiresAt)
    }

    static func network(_ text: String) throws -> IPNetwork {
        guard text.utf8.count <= 64, let network = IPNetwork(text) else {
            throw AdminError.badRequest("\(text.prefix(64)) is not an address or a CIDR range such as 203.0.113.0/24 (host bits clear)")
        }
        return network
    }
}
