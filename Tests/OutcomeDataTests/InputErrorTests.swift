import Testing
@testable import OutcomeData

@Suite("input errors")
struct InputErrorTests {
    @Test func describesLocationProblemAndRemedy() {
        let e = InputError(file: "data.csv", line: 12, column: 5, field: "outcome",
                           message: "'abc' is not a number", hint: "Fix the value or drop the row.")
        #expect(e.description == "data.csv:12:5: 'abc' is not a number (outcome). Fix the value or drop the row.")
        let bare = InputError(file: "w.toml", message: "file not found", hint: "Check the path.")
        #expect(bare.description == "w.toml: file not found. Check the path.")
    }
}
