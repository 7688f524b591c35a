"""The Landscape tab (issue 12): the training loss around a network's final weights, and
the runs of this session compared on one landscape.

Two inner pages:

- **Landscape**: for the active model or one of the session's runs, a 2-D slice of the
  training (or validation) loss around the final weights, along two filter-normalised
  random directions (a seed) or the top two principal directions of the training path,
  with the path drawn (start, end, every logged point); filled colour or contour lines
  with a colour bar, a log scale, the resolution (21/51/101 a side) and the extent. A
  third view is the 1-D loss along the line from the initial to the final weights. A
  model with no stored path (the shipped default, a model opened from a file) is
  trained again with its settings and the path kept, in the same background job, and
  the tab says so.
- **Compare runs**: the runs trained in the Train tab this session (``app.runs``), each
  with a check box; two to six checked show their loss curves overlaid and their paths
  on one landscape: the PCA of all their paths stacked, centred on the final weights
  of the newest run checked (:mod:`bcdesktop.gui.landscape_runs` says why). Any run can
  be made the active model.

The grids are computed in a job (``app.run_in_thread``: progress bar, Cancel, Escape)
by :mod:`bcdesktop.landscape`; the pictures are drawn off the Tk thread
(:class:`~bcdesktop.gui.plots.OffscreenPicture`), which only blits the pixels.

Widgets tests read: ``source_var``/``source_box``, ``directions_var``, ``loss_var``
("training"/"validation"), ``view_var`` (``landscape_runs.VIEWS``), ``log_var``,
``grid_var``/``grid_box``, ``extent_var``, ``seed_var``, ``compute_button``,
``cancel_button``, ``progress``, ``message_label``, ``centre_label``, ``retrain_label``;
``runs_frame``, ``run_rows`` (``{run number: {"check": Checkbutton, "var": BooleanVar,
"active": Button}}``), ``compare_label``, ``compare_cancel``; after the first show:
``plot`` and ``compare_plot`` (OffscreenPicture); :attr:`single` and :attr:`compared`
(what was computed last).
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk
from typing import TYPE_CHECKING

from bcdesktop.gui import landscape_runs as lr
from bcdesktop.gui.context import AppContext
from bcdesktop.gui.widgets import ERROR_TEXT, WARNING_MARK, chars_width, page_of

if TYPE_CHECKING:
    from bcdesktop.gui.plots import OffscreenPicture

ACTIVE = "Active model"
PICTURE_INCHES = (5.8, 4.6)  # what each picture asks for; it grows with the window
COMPARE_INCHES = (5.8, 4.6)
NOTE_CHARS = 36


class LandscapeTab(ttk.Frame):
    """The loss landscape of a model, and the session's runs compared (module docstring)."""

    def __init__(self, master: tk.Misc, app: AppContext):
        super().__init__(master, padding=10)
        self.app = app
        self.job = None
        self.compare_job = None
        self.plot: OffscreenPicture | None = None
        self.compare_plot: OffscreenPicture | None = None
        self.single: lr.Single | None = None
        self._job_retrains = False
        self._fit_pending = None
        self.compared: lr.Compared | None = None
        self._stale = True  # the landscape on screen is not of what the settings now say
        self._compare_pending = None
        self.run_rows: dict[int, dict] = {}

        self.columnconfigure(0, weight=1)
        self.rowconfigure(0, weight=1)
        self.pages = ttk.Notebook(self)
        self.pages.grid(row=0, column=0, sticky="nsew")
        self.single_page = self._build_single()
        self.compare_page = self._build_compare()
        self.pages.add(self.single_page, text="Landscape", padding=8)
        self.pages.add(self.compare_page, text="Compare runs", padding=8)

        root = app.root
        root.bind("<<ModelChanged>>", self._on_model_changed, add="+")
        root.bind("<<RunsChanged>>", lambda _e: self._refresh_runs(), add="+")
        root.bind("<<DataChanged>>", lambda _e: self._mark_stale(), add="+")
        self.bind("<Map>", lambda _e: self._on_shown(), add="+")
        self.pages.bind("<<NotebookTabChanged>>", lambda _e: self._on_shown(), add="+")
        self._refresh_runs()

    # ----------------------------------------------------------------- building
    def _note(self, parent, text="", style="Small.TLabel", **kw) -> ttk.Label:
        label = ttk.Label(parent, text=text, style=style, justify="left", **kw)
        label.configure(wraplength=chars_width(label, NOTE_CHARS))  # the app rescales it with the text
        return label

    def _build_single(self) -> ttk.Frame:
        page = ttk.Frame(self.pages)
        page.columnconfigure(1, weight=1)
        page.rowconfigure(0, weight=1)
        c = ttk.Frame(page)
        c.grid(row=0, column=0, sticky="nw", padx=(0, 10))
        row = 0

        def heading(text):
            nonlocal row
            ttk.Label(c, text=text, style="Bold.TLabel").grid(row=row, column=0, columnspan=2, sticky="w",
                                                              pady=(8 if row else 0, 2))
            row += 1

        heading("Network")
        self.source_var = tk.StringVar(self, ACTIVE)
        self.source_box = ttk.Combobox(c, textvariable=self.source_var, state="readonly", width=30, values=(ACTIVE,))
        self.source_box.grid(row=row, column=0, columnspan=2, sticky="ew")
        self.source_box.bind("<<ComboboxSelected>>", lambda _e: self._mark_stale(), add="+")
        row += 1
        heading("Directions")
        self.directions_var = tk.StringVar(self, "pca")
        for value, text in (("pca", "Principal directions of the path"),
                            ("random", "Random (filter-normalised)")):
            ttk.Radiobutton(c, text=text, value=value, variable=self.directions_var,
                            command=self._mark_stale).grid(row=row, column=0, columnspan=2, sticky="w")
            row += 1
        ttk.Label(c, text="Seed").grid(row=row, column=0, sticky="w")
        self.seed_var = tk.StringVar(self, "0")
        ttk.Entry(c, textvariable=self.seed_var, width=8).grid(row=row, column=1, sticky="w", pady=1)
        row += 1
        ttk.Label(c, text="Points a side").grid(row=row, column=0, sticky="w")
        self.grid_var = tk.StringVar(self, "51")
        self.grid_box = ttk.Combobox(c, textvariable=self.grid_var, state="readonly", width=6,
                                     values=[str(g) for g in lr.GRIDS])
        self.grid_box.grid(row=row, column=1, sticky="w", pady=1)
        self.grid_box.bind("<<ComboboxSelected>>", lambda _e: self._mark_stale(), add="+")
        row += 1
        ttk.Label(c, text="Extent \u00b1").grid(row=row, column=0, sticky="w")
        self.extent_var = tk.StringVar(self, "")
        ttk.Entry(c, textvariable=self.extent_var, width=8).grid(row=row, column=1, sticky="w", pady=1)
        row += 1
        self._note(c, "Empty: automatic (1 for random directions, the path's reach \u00d7 1.25 for its own).",
                   style="Muted.TLabel").grid(row=row, column=0, columnspan=2, sticky="w")
        row += 1
        buttons = ttk.Frame(c)
        buttons.grid(row=row, column=0, columnspan=2, sticky="w", pady=(6, 2))
        self.compute_button = ttk.Button(buttons, text="Compute", command=self.compute)
        self.compute_button.pack(side="left")
        self.cancel_button = ttk.Button(buttons, text="Cancel", command=self.cancel, state="disabled")
        self.cancel_button.pack(side="left", padx=(6, 0))
        row += 1
        self.progress = ttk.Progressbar(c, maximum=1.0, length=chars_width(c, 24))
        self.progress.grid(row=row, column=0, columnspan=2, sticky="ew", pady=2)
        row += 1
        self.message_label = self._note(c)
        self.message_label.grid(row=row, column=0, columnspan=2, sticky="w")
        row += 1
        heading("Show")
        self.view_var = tk.StringVar(self, "filled")
        view_row = ttk.Frame(c)
        view_row.grid(row=row, column=0, columnspan=2, sticky="w")
        for value, text in (("filled", "Filled"), ("contour", "Contours"), ("line", "1-D line")):
            ttk.Radiobutton(view_row, text=text, value=value, variable=self.view_var,
                            command=self._draw_single).pack(side="left", padx=(0, 6))
        row += 1
        self.loss_var = tk.StringVar(self, "training")
        loss_row = ttk.Frame(c)
        loss_row.grid(row=row, column=0, columnspan=2, sticky="w")
        for value, text in (("training", "Training loss"), ("validation", "Validation loss")):
            ttk.Radiobutton(loss_row, text=text, value=value, variable=self.loss_var,
                            command=self._draw_single).pack(side="left", padx=(0, 6))
        row += 1
        self.log_var = tk.BooleanVar(self, False)
        ttk.Checkbutton(c, text="Log scale", variable=self.log_var, command=self._redraw_both).grid(
            row=row, column=0, columnspan=2, sticky="w")
        row += 1
        self.centre_label = self._note(c, style="TLabel")
        self.centre_label.grid(row=row, column=0, columnspan=2, sticky="w", pady=(8, 0))
        row += 1
        self.retrain_label = self._note(c, style="Muted.TLabel")
        self.retrain_label.grid(row=row, column=0, columnspan=2, sticky="w", pady=(4, 0))
        self.picture_frame = ttk.Frame(page)
        self.picture_frame.grid(row=0, column=1, sticky="new")
        return page

    def _build_compare(self) -> ttk.Frame:
        page = ttk.Frame(self.pages)
        page.columnconfigure(1, weight=1)
        page.rowconfigure(0, weight=1)
        c = ttk.Frame(page)
        c.grid(row=0, column=0, sticky="nw", padx=(0, 10))
        ttk.Label(c, text="Runs this session", style="Bold.TLabel").grid(row=0, column=0, sticky="w")
        self._note(c, "Train in the Train tab; each run is kept here. Check two to six to compare them.",
                   style="Muted.TLabel").grid(row=1, column=0, sticky="w", pady=(0, 4))
        self.runs_frame = ttk.Frame(c)
        self.runs_frame.grid(row=2, column=0, sticky="nw")
        self.runs_frame.columnconfigure(0, weight=1)
        buttons = ttk.Frame(c)
        buttons.grid(row=3, column=0, sticky="w", pady=(6, 2))
        self.compare_cancel = ttk.Button(buttons, text="Cancel", command=self.cancel, state="disabled")
        self.compare_cancel.pack(side="left")
        ttk.Checkbutton(buttons, text="Log scale", variable=self.log_var, command=self._redraw_both).pack(
            side="left", padx=(10, 0))
        self.compare_progress = ttk.Progressbar(c, maximum=1.0, length=chars_width(c, 24))
        self.compare_progress.grid(row=4, column=0, sticky="ew", pady=2)
        self.compare_label = self._note(c, style="TLabel")
        self.compare_label.grid(row=5, column=0, sticky="w")
        self.compare_frame = ttk.Frame(page)
        self.compare_frame.grid(row=0, column=1, sticky="new")
        return page

    # ----------------------------------------------------------------- showing
    def _on_shown(self) -> None:
        if not self.winfo_viewable():
            return
        if self.plot is None:
            from bcdesktop.gui.plots import OffscreenPicture

            self.plot = OffscreenPicture(self.picture_frame, self.app.report_exception, size=PICTURE_INCHES,
                                         name="draw-landscape")
            self.compare_plot = OffscreenPicture(self.compare_frame, self.app.report_exception,
                                                 size=COMPARE_INCHES, name="draw-compare")
            self.compare_plot.request(_empty_compare, note="")
            page = page_of(self)
            if page is not None:
                page.canvas.bind("<Configure>", self._fit_later, add="+")
            for frame in (self.picture_frame, self.compare_frame):
                frame.bind("<Map>", self._fit_later, add="+")
        else:
            self.plot.refresh()
            self.compare_plot.refresh()
        self._fit_later()
        if self._stale and self.job is None and self.pages.select() == str(self.single_page):
            self.compute()

    def _mark_stale(self) -> None:
        self._stale = True
        if self.winfo_viewable() and self.job is None:
            self.after_idle(self._on_shown)

    def _on_model_changed(self, _event=None) -> None:
        model = self.app.model
        for run in self.app.runs:  # the run's model, now with its evidence (a new id)
            if run.bundle is not model and run.holds(model):
                run.bundle = model
        if self.source_var.get() == ACTIVE:
            self._mark_stale()

    # ----------------------------------------------------------------- the landscape
    def _say(self, text: str, error: bool) -> None:
        self.message_label.configure(text=(f"{WARNING_MARK} {text}" if error else text),
                                     foreground=ERROR_TEXT if error else "")

    def _source(self):
        """(bundle, dataset, run, what) of the network chosen."""
        choice = self.source_var.get()
        for run in self.app.runs:
            if choice == run.label:
                return run.bundle, run.dataset, run, run.label.split(":")[0].lower()
        bundle = self.app.model
        if bundle is None:
            return None, None, None, ""
        run = next((r for r in reversed(self.app.runs) if r.holds(bundle)), None)
        dataset = run.dataset if run is not None else self.app.dataset
        return bundle, dataset, run, f"the active model {bundle.model_id[:12]}"

    def _read(self):
        try:
            seed = int(self.seed_var.get().strip() or "0")
            if seed < 0:
                raise ValueError
        except ValueError:
            self._say("The seed must be a whole number, 0 or more.", True)
            return None
        text = self.extent_var.get().strip()
        extent = None
        if text:
            try:
                extent = float(text)
                if not extent > 0 or extent != extent or extent == float("inf"):
                    raise ValueError
            except ValueError:
                self._say("The extent must be a number above 0 (or empty: automatic).", True)
                return None
        return dict(directions=self.directions_var.get(), grid=int(self.grid_var.get()), extent=extent, seed=seed)

    def compute(self) -> None:
        """Compute the landscape of the chosen network with the settings (in the background)."""
        if self.job is not None:
            return
        self._stale = False
        bundle, dataset, run, what = self._source()
        if bundle is None:
            self._say("There is no model: train one, or open one with File > Open model.", True)
            return
        options = self._read()
        if options is None:
            return
        retrain = options["directions"] == "pca" and (run is None or run.path is None)
        self._say("Training the model's settings again to get its path\u2026" if retrain else "Computing\u2026", False)
        self.progress.configure(value=0)
        self._job_retrains = retrain

        def work(report, cancel):
            return lr.single_landscape(bundle, dataset, run=run, report=report, cancel=cancel, what=what, **options)

        self.job = self.app.run_in_thread(work, self._on_done, self._on_progress, name="landscape")
        self._buttons()

    def _on_progress(self, message) -> None:
        kind, fraction = message
        # retraining is the first half of a job that retrains
        self.progress.configure(value=fraction * 0.5 if kind == "retrain" else
                                (0.5 + 0.5 * fraction if self._job_retrains else fraction))
        if kind == "retrain":
            self._say(f"Training the model's settings again to get its path ({fraction:.0%})\u2026", False)
        else:
            self._say(f"Computing the grid ({fraction:.0%})\u2026", False)

    def _on_done(self, ok: bool, result) -> None:
        self.job = None
        self._buttons()
        if not ok:
            self.progress.configure(value=0)
            self.app.report_job_failure(result, what="The landscape", inline=self._say,
                                        kept="The picture shown is the previous one." if self.single else "")
            return
        self.progress.configure(value=1.0)
        self.single = result
        land = result.land
        n = len(land.alphas)
        self._say(f"{n} \u00d7 {n} grid in {land.seconds:.2f} s.", False)
        val = ("" if land.val_centre_loss is None else
               f"\nValidation loss there: {land.val_centre_loss:.6f} ({land.val_rows} rows).")
        self.centre_label.configure(
            text=f"Loss at the centre (the final weights): {land.centre_loss:.6f}, the training loss of "
                 f"{result.what} on its {land.rows} training rows.{val}")
        notes = list(result.notes)
        if land.directions == "pca" and land.path is not None:
            e = land.explained
            notes.insert(0, f"The path: {len(land.path)} points, iterations {int(land.path_iterations[0])} to "
                            f"{int(land.path_iterations[-1])}; the two directions explain {e[0]:.1%} and "
                            f"{e[1]:.1%} of its variance.")
        self.retrain_label.configure(text="\n".join(n[:1].upper() + n[1:] + ("" if n.endswith(".") else ".")
                                                    for n in notes))
        self.app.set_status_message(f"Landscape of {result.what} ready.")
        self._draw_single()

    def _draw_single(self) -> None:
        if self.single is None or self.plot is None:
            return
        single, view, log = self.single, self.view_var.get(), self.log_var.get()
        validation = self.loss_var.get() == "validation"
        if validation and single.land.val_losses is None and view != "line":
            self._say("This model's settings leave no validation rows: the training loss is shown.", False)
        fs = self._text_points()
        self.plot.request(lambda figure: lr.draw_single(figure, single, view=view, log=log, validation=validation,
                                                        fs=fs),
                          token=(id(single), view, log, validation), note="Drawing\u2026")

    def _text_points(self) -> float:
        """The pictures' text size in points: a little under the window's text."""
        size = tkfont.nametofont("TkDefaultFont", root=self).actual("size")
        points = float(size) if size > 0 else -size * 72.0 / self.winfo_fpixels("1i")
        return round(0.9 * points, 1)

    def _fit_pictures(self) -> None:
        """Each picture as tall as the page shows below its top (at least its usual
        height), so it is seen whole without scrolling while the controls beside it may
        scroll at a large text size."""
        self._fit_pending = None
        page = page_of(self)
        if page is None or self.plot is None or not self.winfo_ismapped():
            return
        for frame, plot in ((self.picture_frame, self.plot), (self.compare_frame, self.compare_plot)):
            if not frame.winfo_ismapped():
                continue
            top = frame.winfo_rooty() - page.body.winfo_rooty()
            base = round(PICTURE_INCHES[1] * 0.75 * plot.widget.winfo_fpixels("1i"))
            height = max(base, page.canvas.winfo_height() - top - 28)
            if abs(int(plot.widget.cget("height")) - height) > 2:
                plot.widget.configure(height=height)

    def _fit_later(self, _event=None) -> None:
        if getattr(self, "_fit_pending", None) is None:
            self._fit_pending = self.after_idle(self._fit_pictures)

    def _redraw_both(self) -> None:
        self._draw_single()
        self._draw_compare()

    def cancel(self) -> None:
        """Stop the computation running (the landscape or the comparison)."""
        for job in (self.job, self.compare_job):
            if job is not None:
                job.cancel()

    def _buttons(self) -> None:
        self.compute_button.configure(state="disabled" if self.job is not None else "normal")
        self.cancel_button.configure(state="normal" if self.job is not None else "disabled")
        self.compare_cancel.configure(state="normal" if self.compare_job is not None else "disabled")

    # ----------------------------------------------------------------- the runs
    def _refresh_runs(self) -> None:
        runs = list(self.app.runs)
        self.source_box.configure(values=[ACTIVE, *(r.label for r in reversed(runs))])
        if self.source_var.get() not in self.source_box.cget("values"):
            self.source_var.set(ACTIVE)
        known = {r.number for r in runs}
        for number in [n for n in self.run_rows if n not in known]:
            for w in ("check", "active"):
                self.run_rows[number][w].destroy()
            del self.run_rows[number]
        for i, run in enumerate(runs):
            if run.number not in self.run_rows:
                var = tk.BooleanVar(self, False)
                check = ttk.Checkbutton(self.runs_frame, text=run.label, variable=var,
                                        command=self._selection_changed)
                active = ttk.Button(self.runs_frame, text="Make active",
                                    command=lambda r=run: self.make_active(r))
                self.run_rows[run.number] = {"check": check, "var": var, "active": active, "run": run}
            rowd = self.run_rows[run.number]
            rowd["check"].grid(row=i, column=0, sticky="w", pady=1)
            rowd["active"].grid(row=i, column=1, sticky="e", padx=(6, 0), pady=1)
        if not runs:
            self.compare_label.configure(text="No runs yet.")
        elif not self.compared:
            self.compare_label.configure(text=f"{len(runs)} run{'s' if len(runs) != 1 else ''} kept. "
                                              "Check two to six.")

    def checked(self) -> list:
        """The runs checked, in the order they were trained."""
        return [d["run"] for n, d in sorted(self.run_rows.items()) if d["var"].get()]

    def make_active(self, run) -> None:
        """Make ``run``'s model the active one (and get its out-of-fold evidence if it has none)."""
        self.app.set_model(run.bundle, source="trained")
        self.app.set_status_message(f"Model {run.bundle.model_id} ({run.label}) is now active.")
        if getattr(run.bundle, "oof", None) is None and run.dataset is not None:
            def ready(bundle, r=run):
                r.bundle = bundle
            self.app.compute_evidence(run.bundle, run.dataset, on_ready=ready)

    def _selection_changed(self) -> None:
        # after a moment: ticking several boxes quickly starts one job
        if self._compare_pending is not None:
            self.after_cancel(self._compare_pending)
        self._compare_pending = self.after(150, self.compare)

    def compare(self) -> None:
        """Compare the checked runs: loss curves and the shared landscape (background)."""
        self._compare_pending = None
        runs = self.checked()
        if self.compare_job is not None:
            self.compare_job.cancel()
            self._compare_again = True
            return
        self._compare_again = False
        if not 2 <= len(runs) <= lr.MAX_COMPARED:
            self.compare_label.configure(
                text=f"{len(runs)} checked: check two to six runs to compare them.",
                foreground=ERROR_TEXT if len(runs) > lr.MAX_COMPARED else "")
            return
        self.compare_label.configure(text="Computing the shared landscape\u2026", foreground="")
        self.compare_progress.configure(value=0)

        def work(report, cancel):
            return lr.compare_landscape(runs, report=report, cancel=cancel)

        def progress(message):
            self.compare_progress.configure(value=message[1])

        self.compare_job = self.app.run_in_thread(work, self._on_compare_done, progress, name="compare-runs")
        self._buttons()

    def _on_compare_done(self, ok: bool, result) -> None:
        self.compare_job = None
        self._buttons()
        if getattr(self, "_compare_again", False):
            self.compare()
            return
        if not ok:
            self.compare_progress.configure(value=0)
            self.app.report_job_failure(result, what="The comparison",
                                        inline=lambda t, e: self.compare_label.configure(
                                            text=(f"{WARNING_MARK} {t}" if e else t),
                                            foreground=ERROR_TEXT if e else ""))
            return
        self.compare_progress.configure(value=1.0)
        self.compared = result
        if result.land is None:
            text = result.note
        else:
            c = result.centre
            text = (result.note + f"The landscape is centred on run {c.number}'s final weights (loss "
                    f"{result.land.centre_loss:.6f}), the newest run checked; the plane is the PCA of all "
                    f"{sum(len(p) for p in result.paths):,} path points.")
        self.compare_label.configure(text=text, foreground="")
        self._draw_compare()

    def _draw_compare(self) -> None:
        if self.compared is None or self.compare_plot is None:
            return
        compared, log, fs = self.compared, self.log_var.get(), self._text_points()
        self.compare_plot.request(lambda figure: lr.draw_compare(figure, compared, log=log, fs=fs),
                                  token=(id(compared), log), note="Drawing\u2026")


def _empty_compare(figure):
    ax = figure.add_subplot(1, 1, 1)
    ax.axis("off")
    ax.text(0.5, 0.5, "Check two to six runs on the left to compare\ntheir loss curves and their paths.",
            ha="center", va="center", fontsize=10, color="#4F5A65", transform=ax.transAxes)
    return None
