import NIOWebSocket
public import SwitchboardCore

extension Gate {
    /// Records a `bad_request` event for each connection the transport closes on a client violation (1002, 1007, 1009).
    public func reportViolations(app: String, caller: Caller, connection: ConnectionID? = nil) -> (WebSocketViolation) -> Void {
        { violation in
            let code = UInt16(webSocketErrorCode: violation.code)
            self.report(.badRequest, app: app, caller: caller, detail: "WebSocket closed with \(code): \(violation.detail)", connection: connection)
        }
    }
}
