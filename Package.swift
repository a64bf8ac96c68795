// swift-tools-version: 6.0
// cpo-tui: a terminal lab for causal preference optimization (see README.md).
import PackageDescription

// Hot kernels are one source tree (Kernels/) compiled three times: for AVX-512, for AVX2 and
// portably. `-target-cpu` is what turns SIMD `addingProduct` into one vector FMA instead of
// sixteen `fmaf` calls (Sources/TinyLM.docc/Kernels.md, "Lessons" 1); TinyLM picks the variant at run time from
// CPUID, so the binary still runs on any x86-64 (and, portably, elsewhere).
// Kernels are optimized in debug builds too: unoptimized SIMD code is ~100x slower, which
// would make `swift test` (a debug build) spend minutes in gradient checks.
let optimizedInDebug: SwiftSetting = .unsafeFlags(["-O"], .when(configuration: .debug))
#if arch(x86_64)
let avx512Flags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "skylake-avx512"]), optimizedInDebug]
let avx2Flags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"]), optimizedInDebug]
#else
let avx512Flags: [SwiftSetting] = [optimizedInDebug]
let avx2Flags: [SwiftSetting] = [optimizedInDebug]
#endif

// The bf16 matrix multiply of a training step (AVX512-BF16 `vdpbf16ps`) is C, because Swift cannot
// emit those instructions. Each vector function names its instruction sets in a target attribute,
// so the target needs no CPU flags and the binary still runs on any x86-64: TinyLM calls it only
// when CPUID reports AVX512_BF16 (Kernels.md, "The bf16 path"). Optimized in debug builds too.
let bf16CFlags: [CSetting] = [.unsafeFlags(["-O2"], .when(configuration: .debug))]

let package = Package(
    name: "cpo-tui",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cpo-tui", targets: ["cpo-tui"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // World and theme files are TOML; files written by others must load, so a full TOML
        // 1.0 parser (toml++ underneath) rather than a hand-written subset.
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // Documentation only: `swift package generate-documentation --target T` builds the DocC
        // catalogs in Sources/T/T.docc. A command plugin: `swift build` does not compile it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // report.html: an HTML and XML DSL (small, no dependencies) for the page and its SVG charts.
        .package(url: "https://github.com/JohnSundell/Plot", from: "0.14.0"),
    ],
    targets: [
        // Shared plumbing every layer needs: seeded RNG, checksums, atomic file writes.
        .target(name: "CPOSupport"),
        // CPUID / XGETBV probe used to pick a kernel variant at run time.
        .target(name: "CPUFeatures"),
        .target(name: "TinyLMKernelsAVX512", swiftSettings: avx512Flags),
        .target(name: "TinyLMKernelsAVX2", swiftSettings: avx2Flags),
        .target(name: "TinyLMKernelsPortable", swiftSettings: [optimizedInDebug]),
        .target(name: "TinyLMKernelsBF16", cSettings: bf16CFlags),
        .target(
            name: "TinyLM",
            dependencies: ["CPOSupport", "CPUFeatures", "TinyLMKernelsAVX512", "TinyLMKernelsAVX2",
                           "TinyLMKernelsPortable", "TinyLMKernelsBF16"]),
        // The one loading path of world and theme files: bounded read, UTF-8 check, TOMLGuard,
        // TOMLKit, positions. Its own target so that only the layers with TOML files import TOMLKit.
        .target(name: "TOMLSupport", dependencies: ["CPOSupport", .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(name: "OutcomeData", dependencies: ["CPOSupport", "TOMLSupport", .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(name: "CausalPO", dependencies: ["CPOSupport"]),
        // SVG charts and the HTML page of report.html, from plain series (no Lab types), so
        // anything that draws a run can reuse them. Only this target imports Plot.
        .target(name: "ReportCharts", dependencies: ["CPOSupport", .product(name: "Plot", package: "Plot")]),
        .target(name: "Lab", dependencies: ["CPOSupport", "TinyLM", "OutcomeData", "CausalPO", "ReportCharts"]),
        // The scale-out bridge: export for an external trainer (PyTorch + transformers +
        // accelerate), the reference trainer train_cpo.py shipped as a resource, estimates from
        // any rows file, and the read-only view of a run another program writes.
        .target(name: "Bridge", dependencies: ["CPOSupport", "OutcomeData", "CausalPO", "Lab"],
                resources: [.copy("Resources/train_cpo.py")]),
        .target(name: "Dashboard",
                dependencies: ["CPOSupport", "TOMLSupport", "CausalPO", "OutcomeData", "Lab",
                               .product(name: "TOMLKit", package: "TOMLKit")]),
        // No `pkgConfig:` here: SwiftPM would warn about the -D flags ncursesw.pc reports
        // (shim.h defines what is needed) and the module map links ncursesw itself.
        .systemLibrary(name: "CNcursesw", path: "Sources/CNcursesw"),
        .executableTarget(
            name: "cpo-tui",
            dependencies: [
                "CPOSupport", "TinyLM", "OutcomeData", "CausalPO", "Lab", "Bridge", "Dashboard", "CNcursesw",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "CPOSupportTests", dependencies: ["CPOSupport"]),
        .testTarget(name: "TOMLSupportTests", dependencies: ["TOMLSupport", "CPOSupport"]),
        .testTarget(name: "TinyLMTests", dependencies: ["TinyLM", "CPOSupport"]),
        .testTarget(name: "OutcomeDataTests", dependencies: ["OutcomeData", "CPOSupport", "TOMLSupport"]),
        .testTarget(name: "CausalPOTests", dependencies: ["CausalPO"]),
        // Fixtures/: saved runs written by earlier versions, which must keep loading. Also the
        // tests of ReportCharts, whose page and charts report.html is made of.
        .testTarget(name: "LabTests", dependencies: ["Lab", "ReportCharts"], exclude: ["Fixtures"]),
        .testTarget(name: "DashboardTests", dependencies: ["Dashboard", "Lab", "CausalPO", "OutcomeData"], exclude: ["Golden"]),
        // Python/: the reference trainer's tests (parity, two processes, datasets), run by
        // PythonBridgeTests with the interpreter .ci/run prepares.
        .testTarget(name: "BridgeTests", dependencies: ["Bridge", "Lab", "CausalPO", "OutcomeData", "CPOSupport", "Dashboard"],
                    exclude: ["Python", "Fixtures"]),
        // Seeded mutation fuzzing of every hostile-input parser (datasets, worlds, themes,
        // weight files): 10,000+ cases per format, deterministic, replayable by seed.
        .testTarget(name: "FuzzTests", dependencies: ["OutcomeData", "Dashboard", "TinyLM", "CPOSupport"]),
        // Runs the built cpo-tui binary (exit codes, messages, files): no module dependencies.
        .testTarget(name: "CLITests"),
    ]
)
