import Foundation
import Testing
@testable import Bridge

@Suite struct BridgeResourceTests {
    @Test func theReferenceTrainerShipsAsAResource() throws {
        let url = try #require(Bridge.referenceTrainerURL(), "train_cpo.py is not in the resource bundle")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("cpo-tui"))
    }
}
