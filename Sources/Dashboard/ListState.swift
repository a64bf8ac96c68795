import Lab

// Lists that scroll and filter: the Methods panel (and the compare view's table), the
// Generations panel, the data view's training rows and messages, and the help overlay. Their
// positions are view state (`ViewState.lists`); what a list holds, how many lines each item
// takes and where it is drawn come from the snapshot and the same layout functions the views
// draw with, so the keys, the mouse and the drawing agree on what a page is.

/// A list that scrolls and filters.
public enum ListKind: String, Sendable, CaseIterable {
    case methods, generations, rows, messages, help

    /// How panel titles, the header and the filter prompt name it.
    public var title: String {
        switch self {
        case .methods: "Methods"
        case .generations: "Generations"
        case .rows: "Training rows"
        case .messages: "Messages"
        case .help: "keys"
        }
    }
}

/// Where one list stands.
public struct ListPosition: Sendable, Hashable {
    /// The first item shown, counted among the items the filter keeps. Beyond the last page it
    /// means the last page, and stays there as items arrive (`Int.max` follows the end).
    public var top: Int
    /// Only the items containing this (letters in either case) are listed; "" lists all.
    public var filter: String
    /// The highlighted match, counted among the items the filter keeps (`]` and `[` move it).
    public var match: Int

    public init(top: Int = 0, filter: String = "", match: Int = 0) {
        self.top = top
        self.filter = filter
        self.match = match
    }
}

/// Every list's position, the filter being typed and the data view's current list.
public struct ListsState: Sendable, Hashable {
    private var positions: [ListKind: ListPosition] = [:]
    /// The list whose filter is being typed (from `/` until Enter or Esc); nil: none.
    public var editing: ListKind?
    /// The data view's list the keys scroll (Tab switches between the rows and the messages).
    public var dataFocus: ListKind = .rows

    public init() {}

    public subscript(_ kind: ListKind) -> ListPosition {
        get { positions[kind] ?? Self.initial(kind) }
        set { positions[kind] = newValue }
    }

    /// Where a list starts: the messages at their newest, the others at the top.
    static func initial(_ kind: ListKind) -> ListPosition {
        kind == .messages ? ListPosition(top: .max) : ListPosition()
    }
}

extension ViewState {
    /// The list the list keys act on: the help overlay while it is open; in the dashboard the
    /// focused panel's (Methods or Generations; the others have none); the methods in the
    /// compare view; the rows or the messages in the data view.
    public var currentList: ListKind? {
        if showHelp { return .help }
        switch view {
        case .dashboard:
            switch focus {
            case .methods: return .methods
            case .generations: return .generations
            case .loss, .weights, .confounding: return nil
            }
        case .compare: return .methods
        case .data: return lists.dataFocus
        }
    }
}

// MARK: - Filter

/// A filter as it matches: a case-insensitive substring test over UTF-8 (ASCII letters
/// fold; other characters match exactly), cheap enough to run over every item every frame.
struct ListFilter {
    private let needle: [UInt8]

    /// nil for an empty filter (every item is listed).
    init?(_ text: String) {
        guard !text.isEmpty else { return nil }
        needle = Array(text.lowercased().utf8)
    }

    func matches(_ text: String) -> Bool {
        let hay = text.utf8
        guard hay.count >= needle.count else { return false }
        return hay.withContiguousStorageIfAvailable { matches(bytes: $0) } ?? matches(bytes: Array(hay))
    }

    private func matches<C: RandomAccessCollection>(bytes hay: C) -> Bool where C.Element == UInt8, C.Index == Int {
        let n = needle.count, last = hay.endIndex - n
        guard last >= hay.startIndex else { return false }
        var i = hay.startIndex
        while i <= last {
            var k = 0
            while k < n, Self.fold(hay[i + k]) == needle[k] { k += 1 }
            if k == n { return true }
            i += 1
        }
        return false
    }

    private static func fold(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b + 32 : b }
}

// MARK: - Window

/// A list as drawn in a panel: the items the filter keeps, the lines each takes and the lines
/// the panel shows. Paging and clamping walk at most a page of items, so they cost nothing
/// however long the list.
struct ListWindow {
    /// The items the filter keeps (indices into the whole list), in order.
    let items: [Int]
    /// Items in the whole list.
    let total: Int
    /// Lines the panel shows.
    let height: Int
    private let measure: (Int) -> Int
    /// Line counts measured so far (wrapping a text is the costly part; a frame asks for the
    /// same page several times).
    private let measured = LineCounts()

    /// A window over `items` whose item `k` (counted among `items`) takes `lineCount(k)` lines.
    init(items: [Int], total: Int, height: Int, lineCount: @escaping (Int) -> Int) {
        self.items = items
        self.total = total
        self.height = height
        measure = lineCount
    }

    private final class LineCounts {
        var byItem: [Int: Int] = [:]
    }

    /// Lines item `k` (counted among `items`) takes when drawn.
    func lineCount(_ k: Int) -> Int {
        if let n = measured.byItem[k] { return n }
        let n = measure(k)
        measured.byItem[k] = n
        return n
    }

    var count: Int { items.count }

    /// The last page's first item: the first from which every later item fits whole (the last
    /// item alone when it does not).
    var maxTop: Int {
        guard count > 0, height > 0 else { return 0 }
        return min(start(ofPageEndingAt: count), count - 1)
    }

    /// The first item from which the items before `end` fit whole (`end` when not even the
    /// one before it does).
    private func start(ofPageEndingAt end: Int) -> Int {
        var used = 0, k = end
        while k > 0 {
            let n = lineCount(k - 1)
            if used + n > height { break }
            used += n
            k -= 1
        }
        return k
    }

    /// `top` within the list (past the last page: the last page).
    func clamp(_ top: Int) -> Int { max(0, min(top, maxTop)) }

    /// The items drawn from `top`: whole ones, then the start of one more if lines are left.
    func visible(from top: Int) -> Range<Int> {
        let t = clamp(top)
        var used = 0, k = t
        while k < count, used < height {
            used += lineCount(k)
            k += 1
        }
        return t..<k
    }

    /// The items shown whole from `top`.
    func whole(from top: Int) -> Range<Int> {
        let t = clamp(top)
        var used = 0, k = t
        while k < count {
            let n = lineCount(k)
            if used + n > height { break }
            used += n
            k += 1
        }
        return t..<k
    }

    /// A page on: the first item not shown whole becomes the top (at least one item on).
    func pageDown(_ top: Int) -> Int {
        let t = clamp(top)
        return clamp(max(t + 1, whole(from: t).upperBound))
    }

    /// A page back: the items that fit above `top` (at least one item back).
    func pageUp(_ top: Int) -> Int {
        let t = clamp(top)
        return max(0, min(start(ofPageEndingAt: t), t - 1))
    }

    /// The top nearest `top` that shows item `k` whole (from its start when it is taller than
    /// the panel).
    func reveal(_ k: Int, from top: Int) -> Int {
        guard count > 0 else { return 0 }
        let k = max(0, min(k, count - 1)), t = clamp(top)
        if k <= t { return k }
        return clamp(max(t, min(start(ofPageEndingAt: k + 1), k)))
    }

    /// "6-10 of 500", "3 of 3" (the items shown whole, or the one shown in part).
    func range(from top: Int) -> String {
        let shown = whole(from: top), part = visible(from: top)
        let r = shown.isEmpty ? part : shown
        return DashboardView.range(r, of: count)
    }
}

// MARK: - What each list holds

extension DashboardView {
    /// The texts the Generations panel lists for the selected method: the latest requested
    /// samples (`g`, `p`), else every text of the last evaluation, else the few kept with it
    /// (a resumed run before its next evaluation, a watched run).
    static func generationTexts(_ s: LabSnapshot, _ v: ViewState) -> [GeneratedText] {
        guard let m = selected(s, v) else { return [] }
        if let fresh = s.generations[m.method] { return fresh.texts }
        return m.evaluationTexts.isEmpty ? m.epochs.last?.samples ?? [] : m.evaluationTexts
    }

    /// One generation as the panel writes it: "[score | log f/FT | attributes] text", and the
    /// invalid segments.
    static func generationLine(_ g: GeneratedText, _ glyphs: Glyphs) -> String {
        // A text from another trainer (`cpo-tui watch`) may come without a score or a ratio to FT.
        var parts: [String] = []
        if g.score.isFinite { parts.append(String(format: "%.2f", g.score)) }
        if g.logRatioToFT.isFinite { parts.append(String(format: "log f/FT %+.2f", g.logRatioToFT)) }
        if !g.attributes.isEmpty { parts.append(g.attributes.joined(separator: ",")) }
        let meta = parts.isEmpty ? "" : "[" + parts.joined(separator: " | ") + "] "
        let invalid = g.invalidSegments.isEmpty ? ""
            : (glyphs == .ascii ? "  ! invalid: " : "  ⚠ invalid: ") + g.invalidSegments.joined(separator: " / ")
        return meta + g.text + invalid
    }

    /// The log lines the Messages panel lists (a failed save shows above them, not again here).
    static func messageLog(_ s: LabSnapshot) -> [String] {
        let failure = s.lastSave.flatMap { $0.succeeded ? nil : $0.message }
        guard let failure else { return s.messages }
        return s.messages.filter { !$0.hasSuffix(failure) }
    }

    /// The methods the Methods panel lists (indices into `s.methods`): those whose names match
    /// the filter.
    static func listedMethods(_ s: LabSnapshot, _ v: ViewState) -> [Int] {
        guard let f = ListFilter(v.lists[.methods].filter) else { return Array(s.methods.indices) }
        return s.methods.indices.filter { f.matches(s.methods[$0].method.rawValue) }
    }

    /// List `kind` in a panel `width` x `height` lines: its items after the filter and the
    /// lines each takes there.
    static func listWindow(_ kind: ListKind, _ s: LabSnapshot, _ v: ViewState, width: Int, height: Int) -> ListWindow {
        let filter = ListFilter(v.lists[kind].filter)
        func kept(_ n: Int, _ text: (Int) -> String) -> [Int] {
            guard let filter else { return Array(0..<n) }
            return (0..<n).filter { filter.matches(text($0)) }
        }
        switch kind {
        case .methods:
            return ListWindow(items: listedMethods(s, v), total: s.methods.count, height: height) { _ in 1 }
        case .generations:
            let texts = generationTexts(s, v)
            let items: [Int] = filter.map { f in
                texts.indices.filter { i in f.matches(texts[i].text) || texts[i].attributes.contains { f.matches($0) } }
            } ?? Array(texts.indices)
            return ListWindow(items: items, total: texts.count, height: height) { k in
                max(1, Widgets.wrap(generationLine(texts[items[k]], v.glyphs), width: width).count)
            }
        case .rows:
            let rows = s.dataPreview
            return ListWindow(items: kept(rows.count) { rows[$0].text }, total: rows.count, height: height) { _ in 1 }
        case .messages:
            let log = messageLog(s)
            let items = kept(log.count) { log[$0] }
            return ListWindow(items: items, total: log.count, height: height) { k in
                max(1, Widgets.wrap(log[items[k]], width: width, hangingIndent: 2).count)
            }
        case .help:
            let lines = v.keymap.helpLines(glyphs: v.glyphs)
            return ListWindow(items: kept(lines.count) { lines[$0] }, total: lines.count, height: height) { _ in 1 }
        }
    }

    /// Where list `kind`'s lines are on a `size` screen (headers and other lines of its panel
    /// left out), nil when it is not on screen.
    static func listArea(_ kind: ListKind, _ s: LabSnapshot, _ v: ViewState, size: TerminalSize) -> Rect? {
        guard size.width >= minimumWidth, size.height >= minimumHeight else { return nil }
        if kind == .help { return v.showHelp ? helpArea(v, width: size.width, height: size.height).lines : nil }
        let body = bodyRect(width: size.width, height: size.height)
        switch (kind, v.view) {
        case (.methods, .dashboard), (.generations, .dashboard):
            let panel: Panel = kind == .methods ? .methods : .generations
            guard let r = dashboardLayout(body, v).first(where: { $0.panel == panel })?.rect else { return nil }
            return kind == .methods ? r.inset(by: 1).cutTop(1).1 : r.inset(by: 1)
        case (.methods, .compare):
            return compareLayout(s, body).table.inset(by: 1).cutTop(1).1
        case (.rows, .data):
            return dataLayout(s, v, body).rows.inset(by: 1).cutTop(1).1
        case (.messages, .data):
            return dataLayout(s, v, body).messages.map { messagesLogArea(s, v, $0.inset(by: 1)) }
        default:
            return nil
        }
    }

    /// List `kind` as it is drawn on a `size` screen; nil when it is not on screen.
    static func listWindow(_ kind: ListKind, _ s: LabSnapshot, _ v: ViewState, size: TerminalSize) -> ListWindow? {
        listArea(kind, s, v, size: size).map { listWindow(kind, s, v, width: $0.width, height: $0.height) }
    }

    /// Items `r` (from 0) of `count`, as titles count them (from 1): "6-10 of 500", "3 of 3".
    static func range(_ r: Range<Int>, of count: Int) -> String {
        switch r.count {
        case 0: "0 of \(count)"
        case 1: "\(r.lowerBound + 1) of \(count)"
        default: "\(r.lowerBound + 1)-\(r.upperBound) of \(count)"
        }
    }

    /// A panel title's list part: " 6-10 of 500" when the list does not fit, "" when it does;
    /// with a filter ": 12 of 80 match 'rain'" (and the range of those shown).
    static func listTitle(_ w: ListWindow, _ p: ListPosition, alwaysRange: Bool = false) -> String {
        let overflows = w.maxTop > 0 || w.visible(from: p.top).count > w.whole(from: p.top).count
        if p.filter.isEmpty {
            return overflows || alwaysRange ? " " + w.range(from: p.top) : ""
        }
        let shown = overflows ? ", " + w.range(from: p.top) + " shown" : ""
        return ": \(w.count) of \(w.total) match '\(p.filter)'" + shown
    }

    /// Items `win.visible(from: top)`, each wrapped by `lines` and drawn in `r` from its top line;
    /// the highlighted item (`highlight`, counted among the items) in the selected style across
    /// the width; an item cut at the bottom ends in an ellipsis. Returns the number of lines drawn.
    @discardableResult
    static func drawList(_ win: ListWindow, top: Int, highlight: Int?, in r: Rect, _ b: inout CellBuffer, _ v: ViewState,
                         lines: (Int) -> (text: [String], style: Style)) -> Int {
        var y = r.y
        for k in win.visible(from: top) {
            let item = lines(k)
            let selected = k == highlight
            for (j, line) in item.text.enumerated() {
                guard y < r.maxY else { break }
                let cut = y == r.maxY - 1 && j < item.text.count - 1
                if selected { b.fill(Rect(x: r.x, y: y, width: r.width, height: 1), style: v.theme.selected) }
                b.put(cut ? cutMark(line, width: r.width, glyphs: v.glyphs) : line, x: r.x, y: y,
                      style: selected ? item.style.merged(with: v.theme.selected) : item.style, maxWidth: r.width)
                y += 1
            }
        }
        return y - r.y
    }

    /// The last line shown of an item that goes on below the panel: it ends in an ellipsis.
    static func cutMark(_ line: String, width: Int, glyphs: Glyphs) -> String {
        let marked = line + " " + String(glyphs.ellipsis)
        return marked.count <= width ? marked : Widgets.truncate(line + "  ", width: width, glyphs: glyphs)
    }

    /// The highlighted match of list `kind` (counted among the items the filter keeps): only
    /// while a filter is set and something matches.
    static func highlightedMatch(_ kind: ListKind, _ win: ListWindow, _ v: ViewState) -> Int? {
        let p = v.lists[kind]
        guard !p.filter.isEmpty, win.count > 0 else { return nil }
        return max(0, min(p.match, win.count - 1))
    }
}

// MARK: - Keys

extension DashboardState {
    /// A list key (page up/down, top, end, filter, next/previous match) on the current list.
    mutating func applyList(_ action: Action, snapshot: LabSnapshot) {
        guard let kind = currentListOnScreen(snapshot) else {
            view.status = "no list in the \(view.focus.title) panel: Tab to Methods or Generations"
            return
        }
        if action == .filter {
            view.lists.editing = kind
            return
        }
        guard let win = DashboardView.listWindow(kind, snapshot, view, size: screen) else { return }
        var p = view.lists[kind]
        switch action {
        case .nextMatch, .previousMatch:
            guard !p.filter.isEmpty else {
                view.status = "no filter: press / to type one"
                return
            }
            guard win.count > 0 else {
                view.status = "nothing matches '\(p.filter)'"
                return
            }
            let step = action == .nextMatch ? 1 : -1
            // The methods' highlight is their selection (which ↑/↓ may have moved).
            if kind == .methods, let row = DashboardView.selectedRow(snapshot, view), let k = win.items.firstIndex(of: row) { p.match = k }
            p.match = ((max(0, min(p.match, win.count - 1)) + step) % win.count + win.count) % win.count
            p.top = win.reveal(p.match, from: p.top)
            view.lists[kind] = p
            if kind == .methods { view.selectedMethod = win.items[p.match] }
        case .pageUp, .pageDown, .scrollTop, .scrollBottom:
            if kind == .methods {
                let page = max(1, win.height)
                moveSelection(by: [.pageUp: -page, .pageDown: page, .scrollTop: -snapshot.methods.count,
                                   .scrollBottom: snapshot.methods.count][action] ?? 0, snapshot: snapshot)
                return
            }
            switch action {
            case .pageUp: p.top = win.pageUp(p.top)
            case .pageDown: p.top = win.pageDown(p.top)
            case .scrollTop: p.top = 0
            default: p.top = .max
            }
            view.lists[kind] = p
        default:
            break
        }
    }

    /// The list the list keys act on (`ViewState.currentList`); the data view's rows when its
    /// messages were focused but the screen became too narrow to show them.
    mutating func currentListOnScreen(_ snapshot: LabSnapshot) -> ListKind? {
        if view.currentList == .messages, DashboardView.listArea(.messages, snapshot, view, size: screen) == nil {
            view.lists.dataFocus = .rows
        }
        return view.currentList
    }

    /// Scrolls list `kind` by `items` (negative: back), as the wheel and ↑/↓ outside the
    /// dashboard do; the methods move their selection instead.
    mutating func scroll(_ kind: ListKind, by items: Int, snapshot: LabSnapshot) {
        if kind == .methods {
            moveSelection(by: items, snapshot: snapshot)
            return
        }
        guard let win = DashboardView.listWindow(kind, snapshot, view, size: screen) else { return }
        var p = view.lists[kind]
        p.top = win.clamp(win.clamp(p.top) + items)
        view.lists[kind] = p
    }

    /// Moves the method selection `steps` rows among the methods the filter keeps (stays on the
    /// first and the last). A selection the filter hides moves to the nearest kept method in
    /// the direction of travel.
    mutating func moveSelection(by steps: Int, snapshot: LabSnapshot) {
        let items = DashboardView.listedMethods(snapshot, view)
        guard !items.isEmpty else { return }
        let before = DashboardView.selectedRow(snapshot, view) ?? 0
        let k: Int
        if let here = items.firstIndex(of: before) {
            k = here + steps
        } else {
            let after = items.firstIndex { $0 > before } ?? items.count
            k = steps > 0 ? after + steps - 1 : after + steps
        }
        select(items[max(0, min(k, items.count - 1))], snapshot: snapshot)
    }

    /// Selects method `row`; a different method's generations are listed from their top.
    mutating func select(_ row: Int, snapshot: LabSnapshot) {
        if row != DashboardView.selectedRow(snapshot, view) {
            var g = view.lists[.generations]
            g.top = 0
            g.match = 0
            view.lists[.generations] = g
        }
        view.selectedMethod = row
    }

    /// A key while a filter is typed: characters and Backspace edit it (the list follows as it
    /// changes), Enter keeps it, Esc clears it; the arrows and the paging keys still move.
    mutating func editFilter(_ key: Key, snapshot: LabSnapshot) -> [DashboardEffect] {
        guard let kind = view.lists.editing else { return [] }
        var p = view.lists[kind]
        switch key {
        case .enter:
            view.lists.editing = nil
            return []
        case .escape:
            view.lists.editing = nil
            clearFilter(kind, snapshot: snapshot)
            return []
        case .backspace:
            guard !p.filter.isEmpty else { return [] }
            p.filter.removeLast()
        case .char(let c):
            p.filter.append(c)
        case .up, .down, .pageUp, .pageDown, .home, .end:
            return view.keymap.action(for: key).map { apply($0, snapshot: snapshot) } ?? []
        default:
            return []
        }
        view.lists[kind] = p
        refilter(kind, snapshot: snapshot)
        return []
    }

    /// After the filter of `kind` changed: the first match is highlighted and shown (the
    /// methods select it).
    mutating func refilter(_ kind: ListKind, snapshot: LabSnapshot) {
        var p = view.lists[kind]
        p.match = 0
        p.top = 0
        view.lists[kind] = p
        if kind == .methods, let first = DashboardView.listedMethods(snapshot, view).first {
            select(first, snapshot: snapshot)
        }
    }

    /// Clears the filter of `kind`; the item that was highlighted stays in view.
    mutating func clearFilter(_ kind: ListKind, snapshot: LabSnapshot) {
        let win = DashboardView.listWindow(kind, snapshot, view, size: screen)
        let highlighted = win.flatMap { w in DashboardView.highlightedMatch(kind, w, view).map { w.items[$0] } }
        var p = view.lists[kind]
        p.filter = ""
        p.match = 0
        p.top = ListsState.initial(kind).top
        view.lists[kind] = p
        if let highlighted, let all = DashboardView.listWindow(kind, snapshot, view, size: screen) {
            p.top = all.reveal(highlighted, from: p.top)
            view.lists[kind] = p
        }
    }
}
