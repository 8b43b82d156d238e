import NIOCore
import Pusher
import Testing

/// The HTTP API's query signature, against the worked example of Pusher's HTTP API reference.
@Suite struct PusherRequestSignatureTests {
    static let key = "278d425bdf160c739803"
    static let secret = "7ad3773142a6692b25b8"
    static let body = ByteBuffer(string: #"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#)
    static let documentedQuery =
        "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f"
        + "&auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"

    @Test func signingReproducesTheDocumentedQuery() {
        let query = PusherRequestSignature.signedQuery(
            method: "POST",
            path: "/apps/3/events",
            key: Self.key,
            secret: Self.secret,
            timestamp: 1_353_088_179,
            body: Self.body
        )
        #expect(query == Self.documentedQuery)
    }

    @Test func stringToSignIsMethodPathAndSortedQuery() {
        let shuffled = PusherRequestSignature(
            query: "body_md5=ec365a775a4cd0599faeb73354201b6f&auth_version=1.0&auth_key=278d425bdf160c739803&auth_timestamp=1353088179"
        )
        #expect(
            shuffled.stringToSign(method: "POST", path: "/apps/3/events")
                == "POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f"
        )
    }

    /// Values are signed decoded: `%XX` escapes and form encoding's `+` for a space read back as what the client signed.
    @Test func queryValuesAreReadDecodedWithPlusAsASpace() {
        let query = PusherRequestSignature(query: "data=%7B%22a%22%3A+1%7D&name=a+b%2Bc")
        #expect(query["data"] == #"{"a": 1}"#)
        #expect(query["name"] == "a b+c")
    }

    @Test func theDocumentedRequestVerifies() throws {
        let query = PusherRequestSignature(query: Self.documentedQuery)
        try query.verify(method: "POST", paths: ["/apps/3/events"], body: Self.body, key: Self.key, secrets: [Self.secret], now: 1_353_088_179)
        // Ten minutes either way is still fresh.
        try query.verify(method: "POST", paths: ["/apps/3/events"], body: Self.body, key: Self.key, secrets: [Self.secret], now: 1_353_088_779)
    }

    @Test func staleTimestampIsRefused() {
        let query = PusherRequestSignature(query: Self.documentedQuery)
        #expect(throws: PusherRequestSignature.Failure.self) {
            try query.verify(method: "POST", paths: ["/apps/3/events"], body: Self.body, key: Self.key, secrets: [Self.secret], now: 1_353_088_780)
        }
    }

    @Test func anyChangeIsRefused() {
        let query = PusherRequestSignature(query: Self.documentedQuery)
        let other = ByteBuffer(string: #"{"name":"foo","channels":["project-4"],"data":"{\"some\":\"data\"}"}"#)
        #expect(throws: PusherRequestSignature.Failure.self) {
            try query.verify(method: "POST", paths: ["/apps/3/events"], body: other, key: Self.key, secrets: [Self.secret], now: 1_353_088_179)
        }
        #expect(throws: PusherRequestSignature.Failure.self) {
            try query.verify(method: "POST", paths: ["/apps/4/events"], body: Self.body, key: Self.key, secrets: [Self.secret], now: 1_353_088_179)
        }
        #expect(throws: PusherRequestSignature.Failure.self) {
            try query.verify(method: "GET", paths: ["/apps/3/events"], body: Self.body, key: Self.key, secrets: [Self.secret], now: 1_353_088_179)
        }
        #expect(throws: PusherRequestSignature.Failure.self) {
            try query.verify(method: "POST", paths: ["/apps/3/events"], body: Self.body, key: Self.key, secrets: ["wrong"], now: 1_353_088_179)
        }
        #expect(throws: PusherRequestSignature.Failure.self) {
            try query.verify(method: "POST", paths: ["/apps/3/events"], body: Self.body, key: "other", secrets: [Self.secret], now: 1_353_088_179)
        }
    }

    @Test func aBodyNeedsItsMD5() {
        let query = PusherRequestSignature(
            query: PusherRequestSignature.signedQuery(
                method: "POST",
                path: "/apps/3/events",
                key: Self.key,
                secret: Self.secret,
                timestamp: 100,
                body: nil
            )
        )
        #expect(throws: PusherRequestSignature.Failure.self) {
            try query.verify(method: "POST", paths: ["/apps/3/events"], body: Self.body, key: Self.key, secrets: [Self.secret], now: 100)
        }
    }

    @Test func getQueriesAreSignedDecodedAndUnescaped() throws {
        // The official Python library signs `info=user_count,subscription_count` as is; a client may percent-encode the comma.
        let signed = PusherRequestSignature.signedQuery(
            method: "GET",
            path: "/apps/3/channels",
            key: Self.key,
            secret: Self.secret,
            timestamp: 100,
            body: nil,
            parameters: [("filter_by_prefix", "presence-"), ("info", "user_count,subscription_count")]
        )
        let encoded = signed.replacingOccurrences(of: ",", with: "%2C")
        for text in [signed, encoded] {
            let query = PusherRequestSignature(query: text)
            #expect(query["info"] == "user_count,subscription_count")
            try query.verify(method: "GET", paths: ["/apps/3/channels"], body: nil, key: Self.key, secrets: [Self.secret], now: 100)
        }
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        self.split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
