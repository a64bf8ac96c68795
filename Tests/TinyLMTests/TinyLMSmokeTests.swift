import Testing
@testable import TinyLM

