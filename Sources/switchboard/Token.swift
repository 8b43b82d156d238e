import ArgumentParser
import Foundation
import SwitchboardAdapterKit
import SwitchboardCore
import SwitchboardEdge

/// `switchboard token`: mints a connection or channel JWT for development.
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint an HS256 token signed with an app's secret.",
        discussion: """
            A channel token (--channel) carries channel, sub and permissions; a connection token carries sub and,
            with --channels, the channels it may read (SSE) or is subscribed to server-side (JWT protocol).
            """
    )

    @Option(help: "The TOML configuration file (default conf/switchboard.toml, or the app of SWITCHBOARD_APP_ID alone).")
    var config: String?

    @Option(help: "The app id (default: default_app).")
    var app: String?

    @Option(help: "The user id (sub claim).")
    var user: String = ""

    @Option(help: "Mint a channel token for this channel.")
    var channel: String?

    @Option(help: "Comma-separated channels claim of a connection token.")
    var channels: String?

    @Option(help: "Comma-separated permissions of a channel token.")
    var permissions: String = "subscribe,publish"

    @Option(help: "Seconds until the token expires.")
    var ttl: Int64 = 3600

    func run() throws {
        guard self.ttl > 0 else {
            FileHandle.standardError.write(Data("switchboard: --ttl: must be a positive number of seconds\n".utf8))
            throw ExitCode(2)
        }
        let settings: SwitchboardConfig
        do {
            settings = try ConfigLoader.serveConfiguration(path: self.config, environment: ProcessInfo.processInfo.environment)
        } catch {
            FileHandle.standardError.write(Data("switchboard: config error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        guard let appID = self.app ?? settings.defaultApp ?? settings.apps.first?.id,
            let app = settings.apps.first(where: { $0.id == appID })
        else {
            FileHandle.standardError.write(Data("switchboard: no app \(self.app ?? "") in \(self.config ?? "the configuration")\n".utf8))
            throw ExitCode(2)
        }
        let split = { (text: String) in text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        print(
            HMACToken.mint(
                secret: app.signingSecret,
                subject: self.user,
                expiresAt: WallClock.milliseconds() / 1000 + self.ttl,
                channel: self.channel,
                channels: self.channels.map(split),
                permissions: self.channel == nil ? nil : split(self.permissions)
            )
        )
    }
}
