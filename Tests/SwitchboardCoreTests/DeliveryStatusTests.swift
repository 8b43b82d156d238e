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

    @Test func aClientResolvesASupportRequestOnlyToWhereItsDeliveryCouldGoBeforeIt() {
        let afterDelivery = DeliveryState(timeline: [.pickup, .inTransit, .delivered, .supportNeeded, .supportNeeded])
        #expect(afterDelivery.interrupted == .delivered)
        #expect(DeliveryStatus.allowed(after: afterDelivery, byServer: false) == [.delivered, .supportNeeded])
        #expect(DeliveryStatus.allowed(after: afterDelivery, byServer: true) == Set(DeliveryStatus.allCases))
        let afterFailure = DeliveryState(timeline: [.pickup, .failed, .supportNeeded])
        #expect(DeliveryStatus.allowed(after: afterFailure, byServer: false) == [.failed, .pickup, .supportNeeded])
        // Nothing kept before the request: the app's server resolves it.
        #expect(DeliveryStatus.allowed(after: DeliveryState(timeline: [.supportNeeded]), byServer: false) == [.supportNeeded])
        #expect(DeliveryStatus.allowed(after: DeliveryState(timeline: [.inTransit]), byServer: false) == DeliveryStatus.inTransit.next)
    }

    @Test func wireNamesMatchTheJavaScriptPackage() {
        #expect(DeliveryStatus.allCases.map(\.rawValue) == ["pickup", "in_transit", "nearby", "delivered", "failed", "support_needed"])
    }
}
