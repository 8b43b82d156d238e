import JWT
import NIOCore
import SwitchboardAdapterKit

/// The JWT (Centrifugo-style) protocol's frame decoder (`JWTCommand.parse(frame:)`).
enum JWTCommandFuzzCheck {
    static let target = FuzzTarget(
        name: "jwt-command",
        maxLength: 4096,
        summary: "JWTCommand.parse(frame:): at most 100 commands per frame; ids are 32-bit and non-negative; every call but "
            + "`send` has an id; the commands re-encoded one per line decode to the same commands",
        check: { input throws(FuzzFailure) in try check(input) }
    )

    static func check(_ input: [UInt8]) throws(FuzzFailure) {
        guard let commands = try? JWTCommand.parse(frame: ByteBuffer(bytes: input)) else { return }
        try require(!commands.isEmpty && commands.count <= JWTCommand.maxCommandsPerFrame, "accepted \(commands.count) commands in one frame")
        for command in commands {
            try require(command.id >= 0 && command.id <= Int64(UInt32.max), "accepted id \(command.id)")
            switch command.body {
            case .pong:
                try require(command.id == 0, "a pong with id \(command.id)")
            case .call(let method, _):
                try require(command.id > 0 || method == .send, "\(method) without an id")
            case .unknown(let name):
                try require(command.id > 0 && JWTCommand.Method(rawValue: name) == nil, "unknown method \(name.debugDescription)")
            }
        }
        let encoded = encode(commands)
        let again: [JWTCommand]
        do {
            again = try JWTCommand.parse(frame: encoded)
        } catch {
            throw FuzzFailure("the re-encoded frame \(show(Array(encoded.readableBytesView))) is refused: \(error.message)")
        }
        try require(encode(again) == encoded, "re-encoding changed the commands: \(show(Array(encoded.readableBytesView)))")
    }

    /// The commands as a frame, one per line.
    static func encode(_ commands: [JWTCommand]) -> ByteBuffer {
        var frame = ByteBuffer()
        for (index, command) in commands.enumerated() {
            if index > 0 { frame.writeString("\n") }
            var json = JSONWriter()
            json.beginObject()
            if command.id > 0 { json.member("id", command.id) }
            switch command.body {
            case .pong:
                break
            case .call(let method, let parameters):
                json.member(method.rawValue, raw: parameters.buffer)
            case .unknown(let name):
                json.key(name)
                json.null()
            }
            json.endObject()
            frame.writeImmutableBuffer(json.buffer)
        }
        return frame
    }
}
