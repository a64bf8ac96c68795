import Lab

/// Clicks and wheel turns. What is under the pointer is found with the layout functions the
/// views draw with (`dashboardLayout`, `dataLayout`, `compareTable`, `helpArea`), so a click
/// lands on what the user sees.
extension DashboardState {
    /// Items a wheel step scrolls: a wrapped list (generations, messages) moves by one item,
    /// a list of one-line items by three.
    static func wheelStep(_ kind: ListKind) -> Int {
        switch kind {
        case .generations, .messages, .methods: 1
        case .rows, .help: 3
        }
    }

    /// A mouse event on a screen of `size`: a click on a method's row (the Methods panel, the
    /// compare view's table) selects it, a click on a panel focuses it (a dashboard panel, the
    /// data view's rows or messages), the wheel scrolls the list under the pointer (the help
    /// overlay's while it is open).
    public mutating func handleMouse(_ event: MouseEvent, snapshot: LabSnapshot, size: TerminalSize) {
        screen = size
        guard size.width >= DashboardView.minimumWidth, size.height >= DashboardView.minimumHeight else { return }
        let body = DashboardView.bodyRect(width: size.width, height: size.height)
        let wheel: Int? = event.kind == .wheelUp ? -1 : event.kind == .wheelDown ? 1 : nil
        if view.showHelp {
            if let wheel { scroll(.help, by: wheel * Self.wheelStep(.help), snapshot: snapshot) }
            return
        }
        guard body.contains(x: event.x, y: event.y), view.promptDraft == nil else { return }
        switch view.view {
        case .dashboard:
            guard let panel = DashboardView.dashboardLayout(body, view).last(where: { $0.rect.contains(x: event.x, y: event.y) })?.panel
            else { return }
            let list: ListKind? = panel == .methods ? .methods : panel == .generations ? .generations : nil
            if let wheel {
                if let list { scroll(list, by: wheel * Self.wheelStep(list), snapshot: snapshot) }
                return
            }
            view.focus = panel
            if panel == .methods { clickMethod(event, snapshot: snapshot) }
        case .compare:
            if let wheel {
                if DashboardView.compareLayout(snapshot, body).table.contains(x: event.x, y: event.y),
                   let row = DashboardView.selectedRow(snapshot, view) {
                    select(max(0, min(row + wheel, snapshot.methods.count - 1)), snapshot: snapshot)
                }
                return
            }
            clickCompareRow(event, snapshot: snapshot, body: body)
        case .data:
            let layout = DashboardView.dataLayout(snapshot, view, body)
            let under: ListKind? = layout.rows.contains(x: event.x, y: event.y) ? .rows
                : layout.messages?.contains(x: event.x, y: event.y) == true ? .messages : nil
            guard let under else { return }
            if let wheel {
                scroll(under, by: wheel * Self.wheelStep(under), snapshot: snapshot)
            } else {
                view.lists.dataFocus = under
            }
        }
    }

    /// Selects the method whose row in the Methods panel (the methods the filter keeps) is
    /// under the click, scrolled as the table draws it.
    private mutating func clickMethod(_ event: MouseEvent, snapshot: LabSnapshot) {
        guard let area = DashboardView.listArea(.methods, snapshot, view, size: screen),
              area.contains(x: event.x, y: event.y) else { return }
        let items = DashboardView.listedMethods(snapshot, view)
        let selected = DashboardView.selectedRow(snapshot, view).flatMap { items.firstIndex(of: $0) }
        let k = Widgets.tableOffset(selectedRow: selected, rows: items.count, visible: area.height) + event.y - area.y
        if k < items.count { select(items[k], snapshot: snapshot) }
    }

    /// Selects the method of the compare table's row under the click (every method, or every
    /// run's methods), scrolled as the table draws it: to the first row of the selected method.
    private mutating func clickCompareRow(_ event: MouseEvent, snapshot: LabSnapshot, body: Rect) {
        let layout = DashboardView.compareLayout(snapshot, body)
        let area = layout.table.inset(by: 1).cutTop(1).1
        guard area.contains(x: event.x, y: event.y) else { return }
        let current = DashboardView.selected(snapshot, view)?.method
        let selected = layout.methods.firstIndex { $0 == current }
        let k = Widgets.tableOffset(selectedRow: selected, rows: layout.methods.count, visible: area.height) + event.y - area.y
        guard k < layout.methods.count, let row = snapshot.methods.firstIndex(where: { $0.method == layout.methods[k] }) else { return }
        select(row, snapshot: snapshot)
    }
}

extension Rect {
    /// Whether the cell at column `x`, row `y` is inside.
    public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }
}
