import Testing
@testable import CausalPO

