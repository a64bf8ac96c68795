import Testing
@testable import OutcomeData

