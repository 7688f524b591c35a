"""The History tab: the audit trail, newest first, with filters, details, export and a check.

It reads :attr:`app.audit_log <bcdesktop.audit.AuditLog>` (the file the command line
writes too) on the Tk loop: the newest :data:`SHOWN` entries of a 20,000-entry log read
in about 20 ms, and a table of that many rows is filled :data:`CHUNK` rows per tick, so
the window never waits long. Exporting (every entry that matches the filter) and
verifying the hash chain run in the background (``app.run_in_thread``).

The tab follows the log: ``<<AuditChanged>>`` (an entry the window wrote) refreshes it
at most once per :data:`REFRESH_MS` while it is shown, and marks it stale while hidden,
to be read again when it is next shown. Entries written by the command line appear on
Refresh, or with the next entry of the window.
"""

from __future__ import annotations

import json
import time
import tkinter as tk
from datetime import datetime, timezone
from pathlib import Path
from tkinter import font as tkfont
from tkinter import ttk

from bcdesktop import audit
from bcdesktop.errors import UserError
from bcdesktop.gui.auditing import AUDIT_EVENT
from bcdesktop.gui.context import AppContext
from bcdesktop.gui.widgets import (
    BORDER,
    RULE,
    SURFACE,
    TEXT,
    TEXT_SCALE_EVENT,
    WARNING_MARK,
    ScrolledTree,
    chars_width,
    wrap_to_width,
)

ALL = "All"
SHOWN = 2000            # the most entries the table lists
CHUNK = 250             # rows inserted per tick of the Tk loop
REFRESH_MS = 300        # the shortest time between two refreshes on <<AuditChanged>>
OK_TEXT = "#00704F"     # a dark bluish green (Okabe-Ito's, darkened to read as text)
OK_MARK = "\u2713"      # ✓
EXPORT_FILETYPES = [("CSV files", "*.csv"), ("All files", "*")]
EMPTY = "No entries yet: predictions, batch runs, models and threshold changes appear here."
DATE_HINT = "UTC: 2026-12-01 or 2026-12-01 14:30"
COLUMNS = (("id", "Entry", 56, "e"), ("time", "Time (UTC)", 150, "w"), ("kind", "Kind", 84, "w"),
           ("user", "User", 84, "w"), ("model", "Model id", 90, "w"), ("summary", "Summary", 460, "w"))


def shown_time(time_utc: str) -> str:
    """``"2026-12-02T05:10:03.123456Z"`` -> ``"2026-12-02 05:10:03"`` (to the second)."""
    return time_utc[:19].replace("T", " ")


def pretty_json(value, indent: int = 0) -> str:
    """``value`` as indented JSON, with a list of plain values (the nine scores, an
    interval) kept on one line."""
    pad, inner = " " * indent, " " * (indent + 2)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {pretty_json(v, indent + 2)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
        return "[\n" + ",\n".join(f"{inner}{pretty_json(v, indent + 2)}" for v in value) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def entry_details(entry: audit.Entry) -> list[tuple[str, str]]:
    """``(name, text)`` for every field of ``entry``, in the order the details pane shows them."""
    return [("Entry", str(entry.id)), ("Time (UTC)", entry.time_utc[:-1].replace("T", " ")
                                       if entry.time_utc.endswith("Z") else entry.time_utc),
            ("Kind", entry.kind), ("Summary", entry.summary()), ("User", entry.user),
            ("Source", entry.source or "\u2014"), ("App version", entry.app_version),
            ("Model id", entry.model_id or "\u2014"), ("Model SHA-256", entry.model_sha256 or "\u2014"),
            ("Inputs", pretty_json(entry.inputs)), ("Output", pretty_json(entry.output)),
            ("Previous hash", entry.prev_hash), ("Hash", entry.hash)]


class HistoryTab(ttk.Frame):
    """The audit trail: filters, the entries newest first, the selected one in full.

    Widgets tests read: ``log_label`` (the file and whether recording is on),
    ``kind_var`` / ``kind_box``, ``since_var`` / ``since_entry``, ``since_message``
    (an inline error in red), ``apply_button``, ``refresh_button``, ``count_label``
    (how many are listed, the empty log, or why the log cannot be read), ``tree``
    (widgets.ScrolledTree; its row ids are the entry ids), ``details`` (a read-only
    ``tk.Text``), ``open_button``, ``open_hint``, ``export_button``, ``verify_button``,
    ``verify_label``; ``entries`` (listed, newest first), ``filling`` (rows still being
    inserted), ``stale`` (to be read again when next shown), ``verifying``, ``exporting``.
    """

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=10)
        self.app = app
        self.entries: list[audit.Entry] = []
        self._by_id: dict[int, audit.Entry] = {}
        self._filter: tuple[tuple[str, ...] | None, str | None] = (None, None)
        self.stale = True            # read when first shown
        self.verify_job = None
        self.export_job = None
        self._fill_after: str | None = None
        self._fill_next = 0
        self._keep: int | None = None   # the entry to select once its row is in
        self._see = False
        self._refresh_after: str | None = None
        self._last_refresh = 0.0

        ttk.Style(self).configure("AuditOk.TLabel", foreground=OK_TEXT)
        self.columnconfigure(0, weight=1)
        self.rowconfigure(3, weight=3)
        self.rowconfigure(5, weight=2)
        self.log_label = wrap_to_width(ttk.Label(self, text=""))
        self.log_label.grid(row=0, column=0, sticky="ew")
        self._build_filters().grid(row=1, column=0, sticky="ew", pady=(8, 0))
        self.count_label = wrap_to_width(ttk.Label(self, text="", style="Muted.TLabel"))
        self.count_label.grid(row=2, column=0, sticky="ew", pady=(8, 4))
        self.tree = ScrolledTree(self, COLUMNS, height=12)
        self.tree.grid(row=3, column=0, sticky="nsew")
        self._build_actions().grid(row=4, column=0, sticky="ew", pady=(8, 0))
        self._build_details().grid(row=5, column=0, sticky="nsew", pady=(8, 0))

        tree = self.tree.tree
        tree.bind("<<TreeviewSelect>>", lambda _e: self._show_selected(), add="+")
        tree.bind("<Double-1>", self._on_double_click, add="+")
        tree.bind("<Return>", lambda _e: self.open_selected(), add="+")
        tree.bind("<KP_Enter>", lambda _e: self.open_selected(), add="+")
        app.root.bind(AUDIT_EVENT, lambda _e: self._on_audit_changed(), add="+")
        app.root.bind(TEXT_SCALE_EVENT, lambda _e: self._show_selected(), add="+")  # the names' column
        self.bind("<Map>", self._on_map, add="+")
        recording = getattr(app, "audit_var", None)  # File > Record audit trail, in the window
        if isinstance(recording, tk.Variable):
            recording.trace_add("write", lambda *_: self._show_log_line())
        self._show_log_line()
        self._show_selected()

    # ----------------------------------------------------------------- layout
    def _build_filters(self) -> ttk.Frame:
        box = ttk.Frame(self)
        box.columnconfigure(4, weight=1)
        ttk.Label(box, text="Kind").grid(row=0, column=0, sticky="w", padx=(0, 6))
        self.kind_var = tk.StringVar(self, ALL)
        self.kind_box = ttk.Combobox(box, textvariable=self.kind_var, values=(ALL, *audit.KINDS),
                                     state="readonly", width=11)
        self.kind_box.grid(row=0, column=1, sticky="w")
        self.kind_box.bind("<<ComboboxSelected>>", lambda _e: self.apply_filter(), add="+")
        ttk.Label(box, text="From date").grid(row=0, column=2, sticky="w", padx=(16, 6))
        self.since_var = tk.StringVar(self, "")
        self.since_entry = ttk.Entry(box, textvariable=self.since_var, width=19)
        self.since_entry.grid(row=0, column=3, sticky="w")
        self.since_entry.bind("<Return>", lambda _e: self.apply_filter(), add="+")
        self.since_entry.bind("<KP_Enter>", lambda _e: self.apply_filter(), add="+")
        self.since_var.trace_add("write", lambda *_: self._say_since(None))
        # beside its field, as a form's message is; it wraps rather than widen the tab
        self.since_message = wrap_to_width(ttk.Label(box, text=DATE_HINT, style="Muted.TLabel"), min_chars=14)
        self.since_message.grid(row=0, column=4, sticky="ew", padx=(8, 0))
        buttons = ttk.Frame(box)
        buttons.grid(row=0, column=5, sticky="e", padx=(8, 0))
        self.apply_button = ttk.Button(buttons, text="Apply", command=self.apply_filter)
        self.apply_button.pack(side="left")
        self.refresh_button = ttk.Button(buttons, text="Refresh", command=self.refresh)
        self.refresh_button.pack(side="left", padx=(6, 0))
        return box

    def _build_actions(self) -> ttk.Frame:
        box = ttk.Frame(self)
        box.columnconfigure(3, weight=1)
        self.open_button = ttk.Button(box, text="Open in Patient tab", command=self.open_selected,
                                      style="Primary.TButton")
        self.open_button.grid(row=0, column=0, sticky="w")
        self.export_button = ttk.Button(box, text="Export CSV\u2026", command=self.export)
        self.export_button.grid(row=0, column=1, sticky="w", padx=(6, 0))
        self.verify_button = ttk.Button(box, text="Verify chain", command=self.verify)
        self.verify_button.grid(row=0, column=2, sticky="w", padx=(6, 0))
        self.open_hint = wrap_to_width(ttk.Label(box, text="", style="Muted.TLabel"))
        self.open_hint.grid(row=0, column=3, sticky="ew", padx=(12, 0))
        self.verify_label = wrap_to_width(ttk.Label(box, text="", style="Muted.TLabel"))
        self.verify_label.grid(row=1, column=0, columnspan=4, sticky="ew", pady=(6, 0))
        return box

    def _build_details(self) -> ttk.Frame:
        box = ttk.LabelFrame(self, text="Selected entry", padding=6)
        box.columnconfigure(0, weight=1)
        box.rowconfigure(0, weight=1)
        self.details = tk.Text(box, height=9, width=60, wrap="word", font="TkFixedFont", background=SURFACE,
                               foreground=TEXT, relief="flat", borderwidth=0, highlightthickness=1,
                               highlightbackground=RULE, highlightcolor=BORDER, padx=8, pady=6,
                               insertwidth=0, takefocus=1, cursor="arrow")
        self.details.tag_configure("name", font="BcBold")
        self.details.tag_configure("value", font="TkFixedFont")
        self.details.tag_configure("muted", font="TkDefaultFont")
        bar = ttk.Scrollbar(box, orient="vertical", command=self.details.yview)
        self.details.configure(yscrollcommand=bar.set, state="disabled")
        self.details.grid(row=0, column=0, sticky="nsew")
        bar.grid(row=0, column=1, sticky="ns")
        return box

    # ------------------------------------------------------------------ state
    @property
    def filling(self) -> bool:
        """True while rows are still being added to the table."""
        return self._fill_after is not None

    @property
    def verifying(self) -> bool:
        return self.verify_job is not None

    @property
    def exporting(self) -> bool:
        return self.export_job is not None

    def _log(self) -> audit.AuditLog:
        return self.app.audit_log

    def _show_log_line(self) -> None:
        log = self._log()
        try:
            where = f"Audit trail: {log.path}."
        except audit.AuditUnavailable as exc:
            self.log_label.configure(text=f"{WARNING_MARK} {exc}", style="Error.TLabel")
            return
        if log.enabled and log.problem:
            self.log_label.configure(text=f"{where} {WARNING_MARK} {log.problem} Predictions go on, but are "
                                          "not recorded.", style="Error.TLabel")
        elif log.enabled:
            self.log_label.configure(text=f"{where} Recording is on: the window and the command line add to it.",
                                     style="Muted.TLabel")
        else:
            self.log_label.configure(text=f"{where} {WARNING_MARK} Recording is off (setting or --no-audit): "
                                          "nothing new is recorded.", style="Error.TLabel")

    def _say_since(self, message: str | None) -> None:
        if message:
            self.since_message.configure(text=f"{WARNING_MARK} {message}", style="Error.TLabel")
        else:
            self.since_message.configure(text=DATE_HINT, style="Muted.TLabel")

    def _selected(self) -> audit.Entry | None:
        chosen = self.tree.tree.selection()
        return self._by_id.get(int(chosen[0])) if chosen else None

    # ----------------------------------------------------------------- reading
    def apply_filter(self) -> None:
        """Read the filters (kind, from date); a bad date is said beside its field and
        the list stays as it was."""
        kind = self.kind_var.get()
        kinds = None if kind == ALL else (kind,)
        text = self.since_var.get().strip()
        since = None
        if text:
            try:
                since = audit.parse_since(text)
            except ValueError as exc:
                self._say_since(str(exc))
                return
        self._say_since(None)
        self._filter = (kinds, since)
        self.refresh()

    def refresh(self, select: int | None = None) -> None:
        """Read the log again with the filter in use and list the newest entries; the
        selected entry stays selected (or entry ``select``, if listed)."""
        if self._refresh_after is not None:
            self._root().after_cancel(self._refresh_after)
            self._refresh_after = None
        self.stale = False
        self._last_refresh = time.monotonic()
        self._show_log_line()
        kinds, since = self._filter
        try:
            listed = self._log().entries(since=since, kinds=kinds, newest_first=True, limit=SHOWN + 1)
            total = self._log().count() if (kinds, since) == (None, None) or not listed else None
        except audit.AuditUnavailable as exc:
            self._list([], None)
            self.count_label.configure(text=f"{WARNING_MARK} {exc}", style="Error.TLabel")
            return
        more = len(listed) > SHOWN
        self._list(listed[:SHOWN], select)
        self.count_label.configure(text=self._count_text(len(listed[:SHOWN]), more, total), style="Muted.TLabel")

    def _count_text(self, shown: int, more: bool, total: int | None) -> str:
        filtered = self._filter != (None, None)
        if shown == 0:
            if not total:
                return EMPTY
            return f"No entry matches this filter ({total:,} in the log)."
        if more:
            told = (f"Showing the newest {shown:,} of {total:,} entries." if total is not None and not filtered
                    else f"Showing the newest {shown:,} matching entries; there are more.")
            return f"{told} A later From date or one kind narrows the list; Export CSV writes all that match."
        return f"{shown:,} {'matching ' if filtered else ''}entr{'y' if shown == 1 else 'ies'}, newest first."

    def _list(self, entries: list[audit.Entry], select: int | None) -> None:
        """Show ``entries`` in the table, :data:`CHUNK` rows per tick, keeping the selection
        (or selecting and showing entry ``select``)."""
        chosen = self._selected()
        keep = select if select is not None else chosen.id if chosen is not None else None
        if self._fill_after is not None:
            self._root().after_cancel(self._fill_after)
            self._fill_after = None
        tree = self.tree.tree
        tree.delete(*tree.get_children())
        self.entries = entries
        self._by_id = {e.id: e for e in entries}
        self._fill_next = 0
        self._keep = keep if keep in self._by_id else None
        self._see = select is not None
        self._fill()
        if self._keep is None:
            self._show_selected()

    def _fill(self) -> None:
        self._fill_after = None
        if not self.winfo_exists():
            return
        tree, start = self.tree.tree, self._fill_next
        for e in self.entries[start:start + CHUNK]:
            tree.insert("", "end", iid=str(e.id), values=(e.id, shown_time(e.time_utc), e.kind, e.user,
                                                          e.model_id or "", e.summary()))
        self._fill_next = start + CHUNK
        if self._keep is not None and tree.exists(str(self._keep)):
            tree.selection_set(str(self._keep))
            tree.focus(str(self._keep))
            if self._see:
                tree.see(str(self._keep))
            self._keep = None
        if self._fill_next < len(self.entries):
            self._fill_after = self._root().after(1, self._fill)

    # ----------------------------------------------------------------- following the log
    def _on_map(self, event) -> None:
        if event.widget is not self:
            return
        self._show_log_line()  # recording may have been turned on or off meanwhile
        if self.stale:
            self._request_refresh()

    def _on_audit_changed(self) -> None:
        if not self.winfo_exists():
            return
        if self.winfo_ismapped():
            self._request_refresh()
        else:
            self.stale = True

    def _request_refresh(self) -> None:
        """Refresh soon: at once if the last was over :data:`REFRESH_MS` ago, else then."""
        if self._refresh_after is not None:
            return
        wait = REFRESH_MS - 1000 * (time.monotonic() - self._last_refresh)
        self._refresh_after = self._root().after(max(1, round(wait)), self._refresh_due)

    def _refresh_due(self) -> None:
        self._refresh_after = None
        if self.winfo_exists():
            self.refresh()

    # ----------------------------------------------------------------- the selected entry
    def _show_selected(self) -> None:
        entry = self._selected()
        text = self.details
        text.configure(state="normal")
        text.delete("1.0", "end")
        if entry is None:
            text.insert("end", "Select an entry to see it in full: its inputs, its output and its hashes.",
                        "muted")
        else:
            fields = entry_details(entry)
            bold = tkfont.nametofont("BcBold", root=self)
            stop = max(bold.measure(name) for name, _ in fields) + chars_width(self, 2)
            text.configure(tabs=(stop,))
            text.tag_configure("value", lmargin2=stop)  # a wrapped line stays in the value column
            for i, (name, value) in enumerate(fields):
                text.insert("end", ("\n" if i else "") + name, "name")
                text.insert("end", "\t" + value.replace("\n", "\n\t"), "value")
        text.configure(state="disabled")
        can_open = entry is not None and entry.scores() is not None
        self.open_button.state(["!disabled"] if can_open else ["disabled"])
        if entry is None:
            self.open_hint.configure(text="")
        elif can_open:
            self.open_hint.configure(text=f"Entry {entry.id}: its nine scores, predicted again with the active model.")
        else:
            self.open_hint.configure(text="Only a prediction entry can be opened in the Patient tab.")

    def _on_double_click(self, event) -> str | None:
        row = self.tree.tree.identify_row(event.y)
        if not row:
            return None  # a heading or the empty space below the rows
        self.tree.tree.selection_set(row)
        self.open_selected()
        return "break"

    def open_selected(self) -> None:
        """Show the selected prediction entry's scores in the Patient tab (predicted again)."""
        entry = self._selected()
        if entry is None or entry.scores() is None:
            return
        self.app.open_case(entry.scores(), note=f"audit entry {entry.id} of {shown_time(entry.time_utc)} UTC")

    # ----------------------------------------------------------------- export
    def export(self) -> None:
        """Ask for a file and write every entry that matches the filter, oldest first."""
        if self.exporting:
            return
        kinds, since = self._filter
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        name = f"audit-{kinds[0] if kinds else 'trail'}-{day}.csv"
        path = self.app.dialogs.ask_save_file("Export the audit trail as", EXPORT_FILETYPES,
                                              self.app.folder("audit"), name, ".csv")
        if not path:
            return
        path = Path(path)
        self.app.remember_folder("audit", path.parent)
        log = self._log()
        keep = [p for p in (getattr(self.app.dataset, "path", None),
                            getattr(self.app.model, "source_path", None)) if p is not None]

        def work(_report, _cancel):
            try:
                chosen = log.entries(since=since, kinds=kinds)
                return audit.export_csv(path, chosen, log_path=log.path, protect=keep), len(chosen)
            except audit.AuditUnavailable as exc:
                raise UserError(str(exc)) from None

        self._say_action(f"Exporting to {path.name}\u2026")
        self.export_job = self.app.run_in_thread(work, self._export_done, name="audit-export")
        self.export_button.state(["disabled"])

    def _export_done(self, ok: bool, result) -> None:
        self.export_job = None
        self.export_button.state(["!disabled"])
        if ok:
            path, n = result
            self._say_action(f"Exported {n:,} entr{'y' if n == 1 else 'ies'} to {path}.")
            self.app.set_status_message(f"Exported {n:,} audit entries to {Path(path).name}.")
        else:
            self.app.report_job_failure(result, what="Exporting the audit trail", inline=self._say_action)

    def _say_action(self, text: str, error: bool = False) -> None:
        self.verify_label.configure(text=f"{WARNING_MARK} {text}" if error else text,
                                    style="Error.TLabel" if error else "Muted.TLabel")

    # ----------------------------------------------------------------- verify
    def verify(self) -> None:
        """Check the whole hash chain in the background and say what was found."""
        if self.verifying:
            return
        log = self._log()

        def work(_report, _cancel):
            try:
                return log.verify()
            except audit.AuditUnavailable as exc:
                return str(exc)

        self._say_action("Verifying the chain of every entry\u2026")
        self.verify_job = self.app.run_in_thread(work, self._verify_done, name="audit-verify")
        self.verify_button.state(["disabled"])

    def _verify_done(self, ok: bool, result) -> None:
        self.verify_job = None
        self.verify_button.state(["!disabled"])
        if not ok:
            self.app.report_job_failure(result, what="Verifying the audit trail", inline=self._say_action)
            return
        if isinstance(result, str):
            self._say_action(result, error=True)
            return
        sentence = result.sentence()
        sentence = sentence[:1].upper() + sentence[1:] + "."
        if result.ok:
            self.verify_label.configure(text=f"{OK_MARK} {sentence}", style="AuditOk.TLabel")
        else:
            self._say_action(f"{sentence} Export the trail and keep the file as it is for whoever looks into it.",
                             error=True)
            self.refresh(select=result.bad_id)  # the entries as the file holds them now, the bad one shown
        self.app.set_status_message(sentence)

