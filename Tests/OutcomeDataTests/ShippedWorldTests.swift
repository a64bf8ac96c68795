import Foundation
import Testing
@testable import OutcomeData

/// The worlds and datasets in sample-data/ (read from the repository, found from this file).
enum SampleData {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("sample-data")
    static func world(_ name: String) throws -> World {
        try World.load(path: root.appendingPathComponent("worlds/\(name).toml").path)
    }
    /// The exact commands of sample-data/README.md: (world, design, rows, seed, file).
    static let datasets: [(String, WorldDesign, Int, UInt64, String)] = [
        ("river-cleanup", .randomized, 4000, 1, "river-cleanup-randomized.csv"),
        ("river-cleanup", .observational, 4000, 2, "river-cleanup-observational.csv"),
        ("newsletter-clicks", .randomized, 4000, 1, "newsletter-clicks-randomized.csv"),
        ("newsletter-clicks", .observational, 4000, 2, "newsletter-clicks-observational.csv"),
        ("seawall-survey", .randomized, 2000, 1, "seawall-survey-randomized.csv"),
        ("seawall-survey", .observational, 2000, 2, "seawall-survey-observational.csv"),
        ("bike-week", .randomized, 2000, 1, "bike-week-randomized.csv"),
        ("bike-week", .observational, 2000, 2, "bike-week-observational.csv"),
    ]
}

@Suite("shipped worlds and datasets")
struct ShippedWorldTests {
    @Test func theShippedWorldsLoadAndHaveTheirPromisedShapes() throws {
        let river = try SampleData.world("river-cleanup")
        #expect(ShippedWorlds.defaultName == river.name)
        #expect((6...8).contains(river.attributes.count))
        #expect(river.attributes.allSatisfy { (4...8).contains($0.passages.count) })
        #expect(river.outcomeKind == .continuous && river.hasObservationalDesign)
        let clicks = try SampleData.world("newsletter-clicks")
        #expect(clicks.outcomeKind == .binary && clicks.hasObservationalDesign)
        let seawall = try SampleData.world("seawall-survey")
        #expect(seawall.attributes.count == 7 && seawall.passageCounts == [2, 3])
        #expect(seawall.attributes.allSatisfy { (18...22).contains($0.passages.count) })
        #expect(seawall.noiseSD >= 20)
        let bike = try SampleData.world("bike-week")
        #expect(bike.outcomeKind == .continuous && bike.hasObservationalDesign && bike.tilt.count == 2)
        #expect(ShippedWorlds.available().map(\.name).contains("bike-week"))
    }

    /// The default world's log is confounded as promised: the population OLS of Y on the
    /// attribute indicators under the observational design (exact, by enumeration) gives guilt
    /// the opposite sign of its true effect (and the largest naive effect of all), festivity
    /// the opposite sign too, and inflates neighbors.
    @Test func defaultWorldLogIsConfoundedAsDocumented() throws {
        let w = try SampleData.world("river-cleanup")
        let a = w.attributes.count
        var exx = [[Double]](repeating: [Double](repeating: 0, count: a + 1), count: a + 1)
        var exy = [Double](repeating: 0, count: a + 1)
        let prevalence = w.readers!.prevalence, beta = w.readers!.effect
        // Y's mean given (x, C) depends only on the attribute sequence: enumerate sequences
        // with their passage choices collapsed (first passage of each attribute), weighting by
        // the sequence probability (passage factors cancel within a sequence).
        var seen = Set<[Int]>()
        for c in w.allCompositions() where seen.insert(c.attributes).inserted {
            let poolFactor = c.attributes.reduce(0.0) { $0 + log(Double(w.attributes[$1].passages.count)) }
            let x = [1.0] + (0..<a).map { c.attributes.contains($0) ? 1.0 : 0.0 }
            for (trait, pc) in [(1, prevalence), (-1, 1 - prevalence)] {
                let p = pc * exp(w.logPropensity(c, design: .observational, trait: trait) + poolFactor)
                let y = w.baseline + w.structuralScore(c) + beta * Double(trait)
                for i in 0...a {
                    exy[i] += p * x[i] * y
                    for j in 0...a { exx[i][j] += p * x[i] * x[j] }
                }
            }
        }
        let naive = WorldReference.solve(exx, exy)
        func coef(_ name: String) -> Double { naive[1 + w.attributes.firstIndex { $0.name == name }!] }
        func truth(_ name: String) -> Double { w.attributes.first { $0.name == name }!.effect }
        #expect(truth("guilt") < 0 && coef("guilt") > 2, "guilt: naive \(coef("guilt"))")
        #expect(truth("festivity") > 0 && coef("festivity") < -2, "festivity: naive \(coef("festivity"))")
        #expect(coef("neighbors") > truth("neighbors") + 1.5, "neighbors: naive \(coef("neighbors"))")
        // README numbers.
        #expect(abs(coef("guilt") - 11.81) < 0.01 && abs(coef("festivity") + 4.80) < 0.01 && abs(coef("neighbors") - 8.00) < 0.01)
        // Guilt is what naive fitting on the log likes most.
        #expect(w.attributes.map(\.name).allSatisfy { $0 == "guilt" || coef($0) < coef("guilt") })
    }

    /// Every committed dataset is exactly what its README command produces.
    @Test(arguments: SampleData.datasets.indices)
    func committedDatasetsAreReproducible(_ i: Int) throws {
        let (name, design, rows, seed, file) = SampleData.datasets[i]
        let w = try SampleData.world(name)
        let expected = WorldDatasets.csv(world: w, samples: w.sample(rows: rows, design: design, seed: seed)).bytes
        let actual = try [UInt8](Data(contentsOf: SampleData.root.appendingPathComponent(file)))
        #expect(actual == expected, "\(file) differs from `world sample --world \(name) --design \(design.rawValue) --rows \(rows) --seed \(seed)`")
    }

    /// A sampled CSV loads back through the dataset loader with its columns.
    @Test func sampledCSVLoadsBack() throws {
        let w = try SampleData.world("newsletter-clicks")
        let samples = w.sample(rows: 300, design: .observational, seed: 9)
        let bytes = WorldDatasets.csv(world: w, samples: samples).bytes
        let ds = try DatasetLoader.load(bytes: bytes, file: "clicks.csv", format: .csv,
                                        options: LoadOptions(columns: WorldDatasets.columns(world: w)))
        #expect(ds.rows.count == 300 && ds.outcomeKind == .binary)
        for (row, s) in zip(ds.rows, samples) {
            #expect(row.text == s.text && row.outcome == s.outcome && row.trait == Double(s.trait))
            #expect(abs(row.logPropensity! - s.logPropensity) < 1e-12)
            #expect(row.trueValue == s.trueValue)
            #expect(row.attributes.enumerated().allSatisfy { ($1 == 1) == s.composition.attributes.contains($0) })
        }
        let inMemory = WorldDatasets.dataset(world: w, samples: samples, source: "world:\(w.name)")
        #expect(inMemory.rows.map(\.text) == ds.rows.map(\.text))
        #expect(inMemory.rows.map(\.outcome) == ds.rows.map(\.outcome))
    }
}
