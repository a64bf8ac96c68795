/// V* of a world where some passage is a word-prefix of another: an exact search over the
/// states of the oracle's scan instead of scoring every composable text.
///
/// **Why a search is needed.** With prefix relations the oracle may read a composed text as
/// other passages than it was composed of ("… special status." followed by "And its freedoms
/// …" reads as the longer "… special status and its freedoms." and an invalid rest), so the
/// closed form of ``World/bestValue`` (the top effects) no longer holds.
///
/// **What the search relies on** (each checked against the code it depends on):
/// - `g*` increases with the score `S` (and does not depend on the number of passages), so it
///   suffices to maximize `S` over the texts of every count in `design.passages` at once.
/// - A composition draws distinct attributes (`World.forEachComposition`), and its text
///   joins the passages with one space, which always separates words: the normalized words
///   of the text are the passages' words one after another (`PassageMatcher.scan(_:)` of a
///   composition relies on the same fact, and the tests check it against the oracle).
/// - The scan read online is a machine whose state is a trie node (`ScanMachine`), so a
///   passage appended to a text acts on that state alone: reading it from a state gives the
///   same new state and the same tokens (matches, invalid words) whatever came before.
/// - `S` is additive along the tokens: a match adds its attribute's effect when it is among
///   the first `attention` matches and its attribute is not yet counted; an invalid word
///   adds `invalid_effect` when it starts a new run (the previous token was a match or there
///   was none).
///
/// So the best `S` is a longest path over states (trie state, attributes drawn, matches so
/// far up to `attention`, attributes counted, inside an invalid run or not), one layer per
/// passage drawn, closed by the end of the text (which flushes the pending words). Three
/// reductions keep it small, each exact:
/// 1. **Inert states.** A trie state from which no passage can continue the walk (no
///    passage starts with a word that continues it, nor after any stop on the way back to
///    the root) reads every next passage exactly as the root would after the state's
///    pending words are flushed; such a state is replaced by the root plus those tokens. A
///    passage that is a prefix of another only within its own attribute and whose
///    continuations start no passage (all of the real-text case) is then read as itself.
/// 2. **Interchangeable attributes.** An attribute all of whose passages are read as
///    exactly one match of it from every reachable state, and which no other reading ever
///    matches ("plain"), can only add its own effect, once, in the attention slot it lands
///    in. Plain attributes differ only in effect, so the search tracks how many are drawn
///    and how many were counted: the counted ones are the largest plain effects (swapping a
///    counted plain attribute for an unused or uncounted one with a larger effect changes no
///    reading). When every attribute is plain, every composed text reads as its passages and
///    the closed form applies.
/// 3. **Forgetting.** Once `attention` matches were read the counted attributes no longer
///    matter; with `invalid_effect = 0` neither does the invalid run.
///
/// The remaining state space is exponential only in the number of attributes the prefix
/// relations entangle (the problem contains a longest path with distinct labels, so no
/// exact method avoids that in general); real texts entangle few or none. On top of it the
/// search drops every path whose score plus an upper bound on what its rest can add (the
/// largest effects not yet counted in the attention slots left; with a positive
/// `invalid_effect`, the most invalid runs the remaining draws can start) cannot beat the
/// best text found so far: first the closed form's text as the oracle reads it, then a
/// narrow search that keeps a few paths per layer. Dropping such paths cannot lose the
/// optimum, so the answer stays exact; on a generated world of 8 entangled attributes with
/// 40 passages each it leaves a few hundred states of the tens of thousands.
///
/// Ties between texts of equal score go to the first found (the closed form's text, then the
/// narrow search's, then the shortest).
struct OptimumSearch {
    let world: World
    let machine: ScanMachine

    /// Every passage, flattened: its attribute, its index in the pool, its word ids.
    private var passageAttribute: [Int] = []
    private var passageIndex: [Int] = []
    private var passageWords: [[Int]] = []
    /// Passages (flat) by their first word.
    private var passagesStarting: [Int: [Int]] = [:]

    /// The reachable non-inert states: state 0 is the root, each other one a trie node.
    private var stateNode: [Int] = [0]
    private var stateOf: [Int: Int] = [0: 0]
    /// Tokens the end of the text (or a passage that does not continue the walk) decides at
    /// each state, and the passages that may continue the walk there.
    private var flushTokens: [[ScanMachine.Token]] = [[]]
    private var continuing: [Set<Int>] = [[]]
    /// Inert trie nodes and the tokens that replace them.
    private var inert: [Int: [ScanMachine.Token]] = [:]
    /// Reading each passage from the root, and each continuing passage from its state.
    private var fromRoot: [(state: Int, tokens: [ScanMachine.Token])] = []
    private var continued: [[Int: (state: Int, tokens: [ScanMachine.Token])]] = [[:]]

    init(_ world: World) {
        self.world = world
        machine = ScanMachine(world.matcher)
        for (a, pool) in world.matcher.passageWords.enumerated() {
            for (p, words) in pool.enumerated() {
                if let first = words.first { passagesStarting[first, default: []].append(passageWords.count) }
                passageAttribute.append(a)
                passageIndex.append(p)
                passageWords.append(words)
            }
        }
        exploreStates()
    }

    // MARK: The reachable states

    /// Reads every passage from the root, then every continuing passage from each new state,
    /// until no new state appears.
    private mutating func exploreStates() {
        for q in passageWords.indices {
            var tokens: [ScanMachine.Token] = []
            let node = machine.read(passageWords[q], from: 0, into: &tokens)
            fromRoot.append((settle(node, &tokens), tokens))
        }
        var s = 1
        while s < stateNode.count {
            for q in continuing[s].sorted() {
                var tokens: [ScanMachine.Token] = []
                let node = machine.read(passageWords[q], from: stateNode[s], into: &tokens)
                let next = settle(node, &tokens)
                continued[s][q] = (next, tokens)
            }
            s += 1
        }
    }

    /// The state for trie node `node`: the root for the root, a state of its own when some
    /// passage may continue the walk there, else the root after `tokens` gets the node's
    /// flushed tokens (an inert node).
    private mutating func settle(_ node: Int, _ tokens: inout [ScanMachine.Token]) -> Int {
        if let s = stateOf[node] { return s }
        if let flushed = inert[node] {
            tokens += flushed
            return 0
        }
        // A passage continues the walk at `node` if its first word is a child of `node`, or of
        // a node the walk returns to after a stop on the way back to the root; any other
        // passage stops the walk at each of them in turn, which is the flush.
        var continuingPassages = Set<Int>()
        var n = node
        var scratch: [ScanMachine.Token] = []
        while n != 0 {
            for word in world.matcher.nodes[n].children.keys {
                continuingPassages.formUnion(passagesStarting[word] ?? [])
            }
            n = machine.stopOnce(n, into: &scratch)
        }
        var flushed: [ScanMachine.Token] = []
        machine.flush(node, into: &flushed)
        if continuingPassages.isEmpty {
            inert[node] = flushed
            tokens += flushed
            return 0
        }
        let s = stateNode.count
        stateNode.append(node)
        stateOf[node] = s
        flushTokens.append(flushed)
        continuing.append(continuingPassages)
        continued.append([:])
        return s
    }

    // MARK: The search

    /// An optimal composition (its attributes drawn, their passages) and its true value, or
    /// nil when every attribute is plain: then every composed text reads as its passages and
    /// the caller's closed form is exact.
    func optimum() -> (composition: Composition, value: Double)? {
        let attributeCount = world.attributes.count
        var isEntangled = [Bool](repeating: false, count: attributeCount)
        func mark(_ tokens: [ScanMachine.Token]) {
            for case .match(let a) in tokens { isEntangled[a] = true }
        }
        for q in passageWords.indices {
            let r = fromRoot[q]
            if r.state != 0 || r.tokens != [.match(attribute: passageAttribute[q])] {
                isEntangled[passageAttribute[q]] = true
                mark(r.tokens)
            }
        }
        for s in stateNode.indices.dropFirst() {
            mark(flushTokens[s])
            for (q, r) in continued[s] {
                isEntangled[passageAttribute[q]] = true
                mark(r.tokens)
            }
        }
        let entangled = (0..<attributeCount).filter { isEntangled[$0] }
        guard !entangled.isEmpty else { return nil }
        var entangledIndex = [Int](repeating: -1, count: attributeCount)
        for (i, a) in entangled.enumerated() { entangledIndex[a] = i }
        let plain = (0..<attributeCount).filter { !isEntangled[$0] }
        let entangledPassages = passageWords.indices.filter { isEntangled[passageAttribute[$0]] }

        func code(_ tokens: [ScanMachine.Token]) -> [Int] {
            tokens.map {
                switch $0 {
                case .match(let a): return entangledIndex[a]
                case .invalid: return LongestPath.invalidWord
                }
            }
        }
        // The ways to draw a passage at state `s`, one per distinct (attribute, reading). At a
        // state other than the root, a passage that does not continue the walk reads as the
        // state's flush followed by its reading from the root.
        var rootMoves: [(move: LongestPath.Move, passages: [Int])] = []
        var rootMoveIndex: [LongestPath.Move: Int] = [:]
        for q in entangledPassages {
            let r = fromRoot[q]
            let move = LongestPath.Move(entangled: entangledIndex[passageAttribute[q]], target: r.state,
                                        tokens: code(r.tokens), passage: -1)
            if let i = rootMoveIndex[move] {
                rootMoves[i].passages.append(q)
            } else {
                rootMoveIndex[move] = rootMoves.count
                rootMoves.append((move, [q]))
            }
        }
        func moves(at s: Int) -> [LongestPath.Move] {
            let flushed = code(flushTokens[s])
            var list: [LongestPath.Move] = []
            for (move, passages) in rootMoves {
                guard let q = passages.first(where: { !continuing[s].contains($0) }) else { continue }
                list.append(LongestPath.Move(entangled: move.entangled, target: move.target, tokens: flushed + move.tokens,
                                             passage: q))
            }
            var seen = Set<LongestPath.Move>()
            for q in continuing[s].sorted() {
                guard let r = continued[s][q] else { continue }
                var probe = LongestPath.Move(entangled: entangledIndex[passageAttribute[q]], target: r.state,
                                             tokens: code(r.tokens), passage: -1)
                guard seen.insert(probe).inserted else { continue }
                probe.passage = q
                list.append(probe)
            }
            if !plain.isEmpty {
                list.append(LongestPath.Move(entangled: -1, target: 0, tokens: flushed + [LongestPath.plainMatch], passage: -1))
            }
            return list
        }
        var search = LongestPath(world: world, entangled: entangled, plain: plain, endTokens: flushTokens.map(code),
                                 counts: Set(world.passageCounts.filter { $0 >= 1 && $0 <= attributeCount }), moves: moves(at:))

        // A first answer to beat: the closed form's text, as the oracle reads it; then a
        // narrow search (a few paths per layer) for a better one, so that the exact search can
        // drop most paths early.
        let fallback = world.topEffectsOptimum().composition
        let fallbackScore = world.structuralScore(fallback)
        let dive = search.run(toBeat: fallbackScore, beam: LongestPath.diveWidth)
        guard let path = search.run(toBeat: dive?.score ?? fallbackScore, beam: nil)?.path ?? dive?.path else {
            return (fallback, world.trueValue(of: fallback))
        }

        // Give plain draws their attributes: counted ones the largest effects in order, the
        // others the first plain attributes left.
        let countedPlain = path.filter { $0.move.entangled < 0 && $0.countedPlain }.count
        let counted = Set(search.plainOrder.prefix(countedPlain))
        var spare = plain.filter { !counted.contains($0) }.makeIterator()
        var nextCounted = search.plainOrder.makeIterator()
        var attributes: [Int] = []
        var passages: [Int] = []
        for (move, isCounted) in path {
            if move.entangled >= 0 {
                attributes.append(passageAttribute[move.passage])
                passages.append(passageIndex[move.passage])
            } else {
                // The search never draws more plain attributes than there are.
                attributes.append((isCounted ? nextCounted.next() : spare.next()) ?? plain[0])
                passages.append(0)
            }
        }
        let composition = Composition(attributes: attributes, passages: passages)
        return (composition, world.trueValue(of: composition))
    }
}

/// The best score over paths of moves (one per passage drawn), as a layered search with
/// bounds: a path is dropped as soon as its score plus the most its rest could add cannot
/// beat the best finished text found so far, which keeps the search exact.
private struct LongestPath {
    /// One way to draw a passage at a state: a passage of an entangled attribute (`entangled`
    /// its index among them, `passage` the first flat passage that reads this way) or any
    /// plain attribute (`entangled == -1`), the state after it and the tokens it decides
    /// (entangled index of a match, `plainMatch`, or `invalidWord`).
    struct Move: Hashable {
        var entangled: Int
        var target: Int
        var tokens: [Int]
        var passage: Int
    }

    static let plainMatch = -1
    static let invalidWord = -2
    /// Paths kept per layer by the narrow search that finds a first good text.
    static let diveWidth = 32

    /// Where the scan is and what the rest of the score depends on.
    struct Key: Hashable {
        var state: Int
        var matches: Int
        var plainCounted: Int
        var inRun: Bool
        var drawn: AttributeSet
        var counted: AttributeSet
    }

    /// The best path found to a key: its score and where it came from.
    struct Entry {
        var key: Key
        var score: Double
        var previous: Int
        var move: Int
        var countedPlain: Bool
    }

    let endTokens: [[Int]]
    let counts: Set<Int>
    let longest: Int
    let attention: Int
    let invalidEffect: Double
    let plainCount: Int
    /// Plain attributes by effect, largest first (ties: the earlier attribute), and their effects.
    let plainOrder: [Int]
    let plainEffects: [Double]
    let entangledEffects: [Double]
    /// Entangled indices by effect, largest first.
    let entangledByEffect: [Int]
    private let makeMoves: (Int) -> [Move]
    private var moveCache: [[Move]?]
    /// With a positive `invalid_effect`: the most invalid runs `r` more moves and the end can
    /// start from each state, inside a run or not (`[r][2 * state + inRun]`), ignoring which
    /// attributes are left; and the most one move of each entangled attribute, of a plain
    /// one, and the end can start, ignoring the state.
    private var stateRuns: [[Int]] = []
    private var entangledRuns: [Int] = []
    private var entangledByRuns: [Int] = []
    private var plainRuns = 0
    private var endRuns = 0

    init(world: World, entangled: [Int], plain: [Int], endTokens: [[Int]], counts: Set<Int>, moves: @escaping (Int) -> [Move]) {
        self.endTokens = endTokens
        self.counts = counts
        longest = counts.max() ?? 0
        attention = world.attention
        invalidEffect = world.invalidEffect
        plainCount = plain.count
        plainOrder = world.byEffect(plain)
        plainEffects = plainOrder.map { world.attributes[$0].effect }
        let effects = entangled.map { world.attributes[$0].effect }
        entangledEffects = effects
        entangledByEffect = effects.indices.sorted { effects[$0] > effects[$1] }
        makeMoves = moves
        moveCache = [[Move]?](repeating: nil, count: endTokens.count)
        if invalidEffect > 0 { boundRuns(entangledCount: entangled.count) }
    }

    mutating func moves(at s: Int) -> [Move] {
        if let m = moveCache[s] { return m }
        let m = makeMoves(s)
        moveCache[s] = m
        return m
    }

    /// The runs `tokens` start after a token that was (`inRun`) or was not invalid, and
    /// whether they end inside a run.
    private static func runs(_ tokens: [Int], inRun: Bool) -> (count: Int, inRun: Bool) {
        var n = 0
        var run = inRun
        for t in tokens {
            if t == invalidWord {
                if !run { n += 1 }
                run = true
            } else {
                run = false
            }
        }
        return (n, run)
    }

    private mutating func boundRuns(entangledCount: Int) {
        let states = endTokens.count
        // Each move's runs and whether it ends inside a run, after a token outside a run
        // (index 0) or inside one (index 1).
        var edges: [[(target: Int, runs: (Int, Int), after: (Int, Int))]] = []
        entangledRuns = [Int](repeating: 0, count: entangledCount)
        for s in 0..<states {
            edges.append(moves(at: s).map { m in
                let (n0, a0) = Self.runs(m.tokens, inRun: false)
                let (n1, a1) = Self.runs(m.tokens, inRun: true)
                if m.entangled >= 0 {
                    entangledRuns[m.entangled] = Swift.max(entangledRuns[m.entangled], n0)
                } else {
                    plainRuns = Swift.max(plainRuns, n0)
                }
                return (m.target, (n0, n1), (a0 ? 1 : 0, a1 ? 1 : 0))
            })
        }
        // stateRuns[r][2 * state + inRun]
        let end = (0..<2 * states).map { Self.runs(endTokens[$0 / 2], inRun: $0 % 2 == 1).count }
        var table = [end]
        for r in 0..<longest {
            let previous = table[r]
            var row = end
            for s in 0..<states {
                for e in edges[s] {
                    row[2 * s] = Swift.max(row[2 * s], e.runs.0 + previous[2 * e.target + e.after.0])
                    row[2 * s + 1] = Swift.max(row[2 * s + 1], e.runs.1 + previous[2 * e.target + e.after.1])
                }
            }
            table.append(row)
        }
        stateRuns = table
        let runs = entangledRuns
        entangledByRuns = runs.indices.sorted { runs[$0] > runs[$1] }
        endRuns = end.max() ?? 0
    }

    /// Applies `tokens` to `key` and `score`; true when a plain match among them counted.
    func apply(_ tokens: [Int], _ key: inout Key, _ score: inout Double) -> Bool {
        var countedPlain = false
        for t in tokens {
            if t == Self.invalidWord {
                if !key.inRun { score += invalidEffect }
                key.inRun = true
                continue
            }
            key.inRun = false
            guard key.matches < attention else { continue }
            key.matches += 1
            if t == Self.plainMatch {
                score += plainEffects[key.plainCounted]
                key.plainCounted += 1
                countedPlain = true
            } else if !key.counted.contains(t) {
                key.counted.insert(t)
                score += entangledEffects[t]
            }
        }
        // What no longer matters is forgotten, so that equal futures share a key.
        if key.matches >= attention {
            key.counted = AttributeSet()
            key.plainCounted = 0
        }
        if invalidEffect == 0 { key.inRun = false }
        return countedPlain
    }

    /// The most the rest of a text can add to the score of `key` after `step` passages: the
    /// largest effects not yet counted, in the attention slots left, and (with a positive
    /// `invalid_effect`) every invalid run the remaining moves could start.
    func bound(_ key: Key, step: Int) -> Double {
        var total = 0.0
        var slots = attention - key.matches
        var e = 0
        var p = key.plainCounted
        while slots > 0 {
            while e < entangledByEffect.count && key.counted.contains(entangledByEffect[e]) { e += 1 }
            let a = e < entangledByEffect.count ? entangledEffects[entangledByEffect[e]] : -Double.infinity
            let b = p < plainEffects.count ? plainEffects[p] : -Double.infinity
            let x = Swift.max(a, b)
            guard x > 0 else { break }
            total += x
            if a >= b { e += 1 } else { p += 1 }
            slots -= 1
        }
        guard invalidEffect > 0 else { return total }
        let left = longest - step
        var distinct = endRuns
        var plainLeft = Swift.min(left, plainCount - (step - key.drawn.count))
        var moves = left
        var i = 0
        while moves > 0 {
            while i < entangledByRuns.count && key.drawn.contains(entangledByRuns[i]) { i += 1 }
            let a = i < entangledByRuns.count ? entangledRuns[entangledByRuns[i]] : -1
            let b = plainLeft > 0 ? plainRuns : -1
            guard a >= 0 || b >= 0 else { break }
            distinct += Swift.max(a, b)
            if a >= b { i += 1 } else { plainLeft -= 1 }
            moves -= 1
        }
        return total + invalidEffect * Double(Swift.min(distinct, stateRuns[left][2 * key.state + (key.inRun ? 1 : 0)]))
    }

    /// A path that beats `toBeat` (its moves, each with whether its plain match counted) and
    /// its score, or nil when none does. With `beam`, only that many of the most promising
    /// paths are kept per layer: a quick search for a good text, no longer exact.
    mutating func run(toBeat: Double, beam: Int?) -> (path: [(move: Move, countedPlain: Bool)], score: Double)? {
        var best = toBeat
        var bestEnd: (layer: Int, entry: Int)?
        let start = Key(state: 0, matches: 0, plainCounted: 0, inRun: false, drawn: AttributeSet(), counted: AttributeSet())
        var layers: [[Entry]] = [[Entry(key: start, score: 0, previous: -1, move: -1, countedPlain: false)]]
        for step in 0..<longest {
            var next: [Entry] = []
            var index: [Key: Int] = [:]
            for (e, entry) in layers[step].enumerated() {
                if entry.score + bound(entry.key, step: step) <= best { continue }
                let plainDrawn = step - entry.key.drawn.count
                for (m, move) in moves(at: entry.key.state).enumerated() {
                    if move.entangled >= 0 {
                        if entry.key.drawn.contains(move.entangled) { continue }
                    } else if plainDrawn >= plainCount {
                        continue
                    }
                    var key = entry.key
                    var score = entry.score
                    let countedPlain = apply(move.tokens, &key, &score)
                    key.state = move.target
                    if move.entangled >= 0 { key.drawn.insert(move.entangled) }
                    if score + bound(key, step: step + 1) <= best { continue }
                    let candidate = Entry(key: key, score: score, previous: e, move: m, countedPlain: countedPlain)
                    if let i = index[key] {
                        if score > next[i].score { next[i] = candidate }
                    } else {
                        index[key] = next.count
                        next.append(candidate)
                    }
                }
            }
            if let beam, next.count > beam {
                let potential = next.map { $0.score + bound($0.key, step: step + 1) }
                let kept = next.indices.sorted { potential[$0] != potential[$1] ? potential[$0] > potential[$1] : $0 < $1 }
                next = kept.prefix(beam).sorted().map { next[$0] }
            }
            layers.append(next)
            if counts.contains(step + 1) {
                for (e, entry) in next.enumerated() {
                    var key = entry.key
                    var score = entry.score
                    _ = apply(endTokens[key.state], &key, &score)
                    if score > best {
                        best = score
                        bestEnd = (step + 1, e)
                    }
                }
            }
        }
        guard let bestEnd else { return nil }
        var path: [(move: Move, countedPlain: Bool)] = []
        var e = bestEnd.entry
        for layer in stride(from: bestEnd.layer, to: 0, by: -1) {
            let entry = layers[layer][e]
            path.append((moves(at: layers[layer - 1][entry.previous].key.state)[entry.move], entry.countedPlain))
            e = entry.previous
        }
        return (path.reversed(), best)
    }
}

/// A set of small non-negative integers (entangled attributes), without allocation up to 64.
struct AttributeSet: Hashable {
    private var low: UInt64 = 0
    private var high: [UInt64] = []

    var count: Int { high.reduce(low.nonzeroBitCount) { $0 + $1.nonzeroBitCount } }

    func contains(_ i: Int) -> Bool {
        if i < 64 { return low & (1 << UInt64(i)) != 0 }
        let w = i / 64 - 1
        return w < high.count && high[w] & (1 << UInt64(i % 64)) != 0
    }

    mutating func insert(_ i: Int) {
        if i < 64 {
            low |= 1 << UInt64(i)
            return
        }
        let w = i / 64 - 1
        if w >= high.count { high += [UInt64](repeating: 0, count: w + 1 - high.count) }
        high[w] |= 1 << UInt64(i % 64)
    }
}

/// The oracle's scan (``PassageMatcher``) as a machine read one word at a time, so that the
/// text of a composition can be read passage by passage.
///
/// The scan at a position walks the trie as far as the words allow and takes the deepest
/// passage on the walk. Read online, the words after the scan position that are not decided
/// yet always spell a path from the root (the walk would have stopped otherwise), so the
/// machine's state is a trie node. A word with a child there descends; a word without one
/// stops the walk: the deepest passage on the path is a match (with none, the first word is
/// invalid), and the words after it are read again from the root. The end of the text stops
/// the walk the same way until the state is the root.
struct ScanMachine {
    /// What the scan decides: a match of a passage of `attribute`, or a word outside any match.
    enum Token: Hashable {
        case match(attribute: Int)
        case invalid
    }

    private let matcher: PassageMatcher
    private var parent: [Int]
    private var word: [Int]
    private var depth: [Int]
    /// The deepest node with a passage on the path to each node (itself included), or -1.
    private var deepestPassage: [Int]

    init(_ matcher: PassageMatcher) {
        self.matcher = matcher
        let nodes = matcher.nodes
        let n = nodes.count
        parent = [Int](repeating: -1, count: n)
        word = [Int](repeating: -1, count: n)
        depth = [Int](repeating: 0, count: n)
        deepestPassage = [Int](repeating: -1, count: n)
        // A child is always added after its parent, so one pass in index order suffices.
        for p in 0..<n {
            for (w, c) in nodes[p].children {
                parent[c] = p
                word[c] = w
                depth[c] = depth[p] + 1
                deepestPassage[c] = nodes[c].terminal != nil ? c : deepestPassage[p]
            }
        }
    }

    /// Reads `words` from state `node`, appending what the scan decides to `tokens`; returns
    /// the new state.
    func read(_ words: [Int], from node: Int, into tokens: inout [Token]) -> Int {
        var pending = Array(words.reversed())
        return run(node, &pending, &tokens, toEnd: false)
    }

    /// Ends the text at state `node`: appends the tokens the end decides.
    func flush(_ node: Int, into tokens: inout [Token]) {
        var pending: [Int] = []
        _ = run(node, &pending, &tokens, toEnd: true)
    }

    /// Stops the walk at `node` once (as a word that does not continue it would) and reads
    /// the words after the decided token again: the state the walk then returns to.
    func stopOnce(_ node: Int, into tokens: inout [Token]) -> Int {
        var pending: [Int] = []
        let root = stop(node, &pending, &tokens)
        return run(root, &pending, &tokens, toEnd: false)
    }

    /// Reads `pending` (next word last) from `node`; with `toEnd`, then ends the text.
    private func run(_ node: Int, _ pending: inout [Int], _ tokens: inout [Token], toEnd: Bool) -> Int {
        var node = node
        while true {
            if let w = pending.popLast() {
                if let child = matcher.child(node, w) {
                    node = child
                } else if node == 0 {
                    tokens.append(.invalid)   // no passage starts with this word
                } else {
                    pending.append(w)
                    node = stop(node, &pending, &tokens)
                }
            } else if toEnd && node != 0 {
                node = stop(node, &pending, &tokens)
            } else {
                return node
            }
        }
    }

    /// The walk cannot go on from `node`: decides its first token and puts the words after it
    /// back in front of `pending`; the scan goes on from the root.
    private func stop(_ node: Int, _ pending: inout [Int], _ tokens: inout [Token]) -> Int {
        let t = deepestPassage[node]
        let decided: Int
        if t >= 0, let match = matcher.nodes[t].terminal {
            tokens.append(.match(attribute: match.attribute))
            decided = depth[t]
        } else {
            tokens.append(.invalid)
            decided = 1
        }
        var n = node
        while depth[n] > decided {
            pending.append(word[n])
            n = parent[n]
        }
        return 0
    }
}
