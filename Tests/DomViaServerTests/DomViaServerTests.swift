import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Pusher
import Testing

@testable import DomViaServer

@Suite struct DomViaServerTests {
    @Test func privateChannelsAreSignedAsPushersPublishedExample() throws {
        let authorization = try authorizePrivateChannel(
            key: "278d425bdf160c739803",
            secret: "7ad3773142a6692b25b8",
            socketID: "1234.1234",
            channelName: "private-foobar"
        )
        #expect(authorization.auth == "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4")
        #expect(authorization.channelData == nil)
        #expect(
            String(decoding: try JSONEncoder().encode(authorization), as: UTF8.self)
                == #"{"auth":"278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"}"#
        )
    }

    @Test func presenceChannelsCarryTheMemberTheEdgeVerifies() throws {
        let authorization = try authorizePresenceChannel(
            key: "pk",
            secret: "sk",
            socketID: "1.2",
            channelName: "presence-chat.room.42",
            userID: "ada \"the first\"",
            userInfo: ["name": "Ada", "role": "admin"]
        )
        let channelData = try #require(authorization.channelData)
        #expect(channelData == #"{"user_id":"ada \"the first\"","user_info":{"name":"Ada","role":"admin"}}"#)
        let expected = PusherSignature.channelAuth(
            key: "pk",
            secret: "sk",
            socketID: "1.2",
            channel: "presence-chat.room.42",
            channelData: channelData
        )
        #expect(authorization.auth == expected)
    }

    @Test func refusesToSignWhatAClientShouldNeverGet() {
        let cases: [(String, String, String, String)] = [
            ("pk", "", "1.2", "private-a"),
            ("pk", "sk", "1.2:private-b", "private-a"),
            ("pk", "sk", "1.2", "private-a:private-b"),
            ("pk", "sk", "1.2", "#server-to-user-ada"),
            ("pk", "sk", "1.2", "presence-a"),
        ]
        for (key, secret, socket, channel) in cases {
            #expect(throws: DomViaServerError.self, "\(socket) \(channel)") {
                try authorizePrivateChannel(key: key, secret: secret, socketID: socket, channelName: channel)
            }
        }
        #expect(throws: DomViaServerError.self) {
            try authorizePresenceChannel(key: "pk", secret: "sk", socketID: "1.2", channelName: "private-a", userID: "u")
        }
    }

    @Test func publishRequestsPassTheEdgesOwnSignatureCheck() throws {
        let server = DomViaRealtimeServer(appID: "1001", key: "pk_test", secret: "sk_test", host: "127.0.0.1:8080")
        #expect(server.baseURL == "http://127.0.0.1:8080")
        #expect(DomViaRealtimeServer(appID: "1", key: "k", secret: "s", host: "edge.example.com").baseURL == "https://edge.example.com")
        let request = try server.triggerRequest(
            channels: ["private-delivery.884"],
            event: "delivery.status",
            json: #"{"status":"pickup"}"#,
            socketID: "3.4"
        )
        let url = try #require(URL(string: request.url))
        #expect(url.path == "/apps/1001/events")
        let body = request.body
        #expect(
            String(buffer: body)
                == #"{"name":"delivery.status","channels":["private-delivery.884"],"data":"{\"status\":\"pickup\"}","socket_id":"3.4"}"#
        )
        let signature = PusherRequestSignature(query: url.query)
        try signature.verify(
            method: "POST",
            paths: [url.path],
            body: body,
            key: "pk_test",
            secrets: ["sk_test"],
            now: Int64(Date().timeIntervalSince1970)
        )
        #expect(throws: PusherRequestSignature.Failure.self) {
            try signature.verify(
                method: "POST",
                paths: [url.path],
                body: body,
                key: "pk_test",
                secrets: ["other"],
                now: Int64(Date().timeIntervalSince1970)
            )
        }
    }

    @Test func triggerReachesAnHTTPAPIAndSurfacesItsRefusal() async throws {
        let router = Router()
        router.post("/apps/:id/events") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let signature = PusherRequestSignature(query: request.uri.query)
            try signature.verify(
                method: "POST",
                paths: [request.uri.path],
                body: body,
                key: "pk",
                secrets: ["sk"],
                now: Int64(Date().timeIntervalSince1970)
            )
            let refused = String(buffer: body).contains("in_transit")
            let reply = refused ? #"{"error":{"code":"invalid_transition","message":"a delivery cannot go to in_transit from delivered"}}"# : "{}"
            return Response(
                status: refused ? .conflict : .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: reply))
            )
        }
        try await Application(router: router).test(.live) { client in
            let port = try #require(client.port)
            let realtime = DomViaRealtimeServer(appID: "1001", key: "pk", secret: "sk", host: "127.0.0.1:\(port)")
            try await realtime.trigger("private-delivery.1", event: "delivery.status", data: ["status": "delivered"])
            do {
                try await realtime.trigger("private-delivery.1", event: "delivery.status", data: ["status": "in_transit"])
                Issue.record("the refusal was not reported")
            } catch let error as DomViaServerError {
                #expect(
                    error == DomViaServerError(status: 409, code: "invalid_transition", message: "a delivery cannot go to in_transit from delivered")
                )
            }
        }
    }
}
