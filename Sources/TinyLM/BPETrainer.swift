// Learning BPE merges from a corpus.

extension BPETokenizer {
    /// Learns a tokenizer from `corpus`, growing the vocabulary to `vocabSize` ids.
    ///
    /// Each text is pre-tokenized (see `preTokenize`) and the unique chunks are counted. Then the
    /// most frequent adjacent token pair across all chunks is merged into a new token, repeatedly,
    /// until `vocabSize` is reached or no pair occurs at least twice (so the result can be
    /// smaller than asked on a small corpus). Ties are broken by the lowest (left id, right id),
    /// and nothing depends on hashing or iteration order, so training is fully deterministic.
    ///
    /// Cost: pair counts are updated incrementally, touching only the chunks that contain the
    /// merged pair, with a lazily-updated max-heap picking the next pair.
    ///
    /// - Throws: `TokenizerError.vocabSizeTooSmall` if `vocabSize < 259` (the 256 bytes and
    ///   3 special tokens are always present), `.vocabSizeTooLarge` above `maxVocabSize`.
    public static func train(corpus: [String], vocabSize: Int = 1024) throws(TokenizerError)
        -> BPETokenizer
    {
        guard vocabSize >= minVocabSize else {
            throw .vocabSizeTooSmall(requested: vocabSize, minimum: minVocabSize)
        }
        guard vocabSize <= maxVocabSize else {
            throw .vocabSizeTooLarge(requested: vocabSize, maximum: maxVocabSize)
        }
        var trainer = BPETrainer()
        for text in corpus { trainer.add(text) }
        let merges = trainer.learn(mergeCount: vocabSize - minVocabSize)
        // Merges learned this way always validate; the check costs microseconds.
        return try BPETokenizer(merges: merges)
    }
}

/// The incremental BPE training state.
struct BPETrainer {
    /// Occurrence count of every distinct chunk (chunks of one byte have no pairs: skipped).
    private var chunkCounts: [[UInt8]: Int] = [:]

    mutating func add(_ text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { addBytes($0) }
        if done == nil { Array(text.utf8).withUnsafeBufferPointer { addBytes($0) } }
    }

    private mutating func addBytes(_ buf: UnsafeBufferPointer<UInt8>) {
        BPEPreTokenizer.forEachChunk(buf) { range in
            guard range.count > 1 else { return }
            chunkCounts[Array(buf[range]), default: 0] += 1
        }
    }

    /// Learns up to `mergeCount` merges from the chunks added so far.
    func learn(mergeCount: Int) -> [BPETokenizer.Merge] {
        guard mergeCount > 0 else { return [] }
        // Words in a fixed order (sorted by bytes) so no step depends on Dictionary order.
        let sorted = chunkCounts.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        // All words live in one flat buffer; merging only ever shortens a word, in place.
        var tokens: [Int32] = []
        var wordStart: [Int] = []
        var wordLength: [Int] = []
        var freqs: [Int] = []
        tokens.reserveCapacity(sorted.reduce(0) { $0 + $1.key.count })
        for (chunk, count) in sorted {
            wordStart.append(tokens.count)
            wordLength.append(chunk.count)
            freqs.append(count)
            for b in chunk { tokens.append(Int32(b)) }
        }

        // Every pair ever seen gets a slot: its weighted count and the words that contain it
        // (or once did: stale entries are skipped when the pair is merged).
        var slots = BPEPairSlots()
        var pairKey: [UInt64] = []
        var pairCount: [Int] = []
        var pairWords: [[Int32]] = []
        func slot(_ a: Int32, _ b: Int32) -> Int {
            let k = BPEPairTable.key(a, b)
            let (s, inserted) = slots.findOrInsert(k, nextSlot: Int32(pairKey.count))
            if inserted {
                pairKey.append(k)
                pairCount.append(0)
                pairWords.append([])
            }
            return Int(s)
        }
        for w in 0..<wordStart.count {
            let f = freqs[w], start = wordStart[w]
            for i in start..<(start + wordLength[w] - 1) {
                let s = slot(tokens[i], tokens[i + 1])
                pairCount[s] += f
                if pairWords[s].last != Int32(w) { pairWords[s].append(Int32(w)) }
            }
        }
        var heap = BPEPairHeap()
        for s in 0..<pairKey.count where pairCount[s] >= 2 {
            heap.push(count: pairCount[s], key: pairKey[s], slot: Int32(s))
        }

        var merges: [BPETokenizer.Merge] = []
        merges.reserveCapacity(mergeCount)
        var visited = [Int32](repeating: -1, count: wordStart.count)  // last merge id that touched w
        var newSlots: [Int] = []
        var inMerge: [Bool] = []
        var list: [Int32] = []

        while merges.count < mergeCount, let top = heap.pop() {
            let topSlot = Int(top.slot)
            let current = pairCount[topSlot]
            if current != top.count {
                // Stale entry: the pair lost occurrences since it was pushed (counts of existing
                // pairs only ever decrease). Requeue with its true count.
                if current >= 2 { heap.push(count: current, key: top.key, slot: top.slot) }
                continue
            }
            let a = Int32(truncatingIfNeeded: top.key >> 32)
            let b = Int32(truncatingIfNeeded: top.key)
            let x = BPETokenizer.firstMergeID + Int32(merges.count)
            merges.append(BPETokenizer.Merge(a, b))
            newSlots.removeAll(keepingCapacity: true)
            list.removeAll(keepingCapacity: true)
            swap(&list, &pairWords[topSlot])

            for w32 in list {
                let w = Int(w32)
                if visited[w] == x { continue }
                visited[w] = x
                let start = wordStart[w], n = wordLength[w], end = start + n
                // Mark the positions that merge (left to right, non-overlapping).
                inMerge.removeAll(keepingCapacity: true)
                inMerge.append(contentsOf: repeatElement(false, count: n))
                var found = false
                var i = start
                while i < end - 1 {
                    if tokens[i] == a && tokens[i + 1] == b {
                        inMerge[i - start] = true
                        inMerge[i - start + 1] = true
                        found = true
                        i += 2
                    } else {
                        i += 1
                    }
                }
                if !found { continue }  // stale index entry
                let f = freqs[w]
                // Old pairs touching a merged position disappear...
                for j in 0..<(n - 1) where inMerge[j] || inMerge[j + 1] {
                    let s = slot(tokens[start + j], tokens[start + j + 1])
                    pairCount[s] -= f
                }
                // ...the word shrinks in place...
                var out = start
                i = start
                while i < end {
                    if inMerge[i - start] {
                        tokens[out] = x
                        i += 2
                    } else {
                        tokens[out] = tokens[i]
                        i += 1
                    }
                    out += 1
                }
                let m = out - start
                wordLength[w] = m
                // ...and new pairs touching x appear (all other pairs are unchanged).
                for j in start..<(start + m - 1) where tokens[j] == x || tokens[j + 1] == x {
                    let s = slot(tokens[j], tokens[j + 1])
                    if pairCount[s] == 0 { newSlots.append(s) }
                    pairCount[s] += f
                    if pairWords[s].last != w32 { pairWords[s].append(w32) }
                }
            }
            for s in newSlots where pairCount[s] >= 2 {
                heap.push(count: pairCount[s], key: pairKey[s], slot: Int32(s))
            }
        }
        return merges
    }
}

/// Growable open-addressing map from a pair key to a dense slot number (cheap multiplicative
/// hashing; `Dictionary`'s per-lookup SipHash dominated training time).
struct BPEPairSlots {
    private var keys = [UInt64](repeating: .max, count: 1024)
    private var slots = [Int32](repeating: -1, count: 1024)
    private var count = 0
    private var shift: UInt64 = 64 - 10

    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The slot of `key`, inserting it with `nextSlot` if absent.
    mutating func findOrInsert(_ key: UInt64, nextSlot: Int32) -> (slot: Int32, inserted: Bool) {
        let mask = keys.count - 1
        var i = home(key)
        while true {
            let k = keys[i]
            if k == key { return (slots[i], false) }
            if k == .max { break }
            i = (i + 1) & mask
        }
        keys[i] = key
        slots[i] = nextSlot
        count += 1
        if 2 * count > keys.count { grow() }
        return (nextSlot, true)
    }

    private mutating func grow() {
        let oldKeys = keys, oldSlots = slots
        keys = [UInt64](repeating: .max, count: oldKeys.count * 2)
        slots = [Int32](repeating: -1, count: oldKeys.count * 2)
        shift -= 1
        let mask = keys.count - 1
        for (k, s) in zip(oldKeys, oldSlots) where k != .max {
            var i = home(k)
            while keys[i] != .max { i = (i + 1) & mask }
            keys[i] = k
            slots[i] = s
        }
    }
}

/// Max-heap of (count, pair key): highest count first, then the smallest key.
struct BPEPairHeap {
    struct Entry {
        var count: Int
        var key: UInt64
        var slot: Int32
    }

    private var items: [Entry] = []

    @inline(__always)
    private static func before(_ x: Entry, _ y: Entry) -> Bool {
        x.count != y.count ? x.count > y.count : x.key < y.key
    }

    mutating func push(count: Int, key: UInt64, slot: Int32) {
        items.append(Entry(count: count, key: key, slot: slot))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.before(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < n && Self.before(items[l], items[best]) { best = l }
            if r < n && Self.before(items[r], items[best]) { best = r }
            if best == i { break }
            items.swapAt(i, best)
            i = best
        }
        return top
    }
}
