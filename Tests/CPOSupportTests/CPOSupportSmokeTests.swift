import Testing
@testable import CPOSupport

