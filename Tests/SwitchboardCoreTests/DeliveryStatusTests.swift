import Testing

@testable import SwitchboardCore

@Suite struct DeliveryStatusTests {
    @Test func deliveredIsFinalExceptForASupportRequest() {
        #expect(!DeliveryStatus.allows(from: .delivered, to: .inTransit))
        #expect(!DeliveryStatus.allows(from: .delivered, to: .delivered))
        #expect(!DeliveryStatus.allows(from: .delivered, to: .pickup))
        #expect(DeliveryStatus.allows(from: .delivered, to: .supportNeeded))
    }

    @Test func theHappyPathAndItsDetoursAreAllowed() {
        let path: [DeliveryStatus] = [.pickup, .inTransit, .nearby, .inTransit, .nearby, .delivered, .supportNeeded, .pickup]
        var current: DeliveryStatus? = nil
        for next in path {
            #expect(DeliveryStatus.allows(from: current, to: next), "\(String(describing: current)) → \(next)")
            current = next
        }
        #expect(DeliveryStatus.allows(from: .failed, to: .pickup))
    }

    @Test func aDeliveryCannotStartDeliveredOrNearby() {
        #expect(!DeliveryStatus.allows(from: nil, to: .delivered))
        #expect(!DeliveryStatus.allows(from: nil, to: .nearby))
        #expect(DeliveryStatus.allows(from: nil, to: .pickup))
        #expect(!DeliveryStatus.allows(from: .pickup, to: .delivered))
    }

    @Test func wireNamesMatchTheJavaScriptPackage() {
        #expect(DeliveryStatus.allCases.map(\.rawValue) == ["pickup", "in_transit", "nearby", "delivered", "failed", "support_needed"])
    }
}
