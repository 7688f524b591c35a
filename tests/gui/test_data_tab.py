"""The Data tab: open a file, see counts, rejected rows and reasons; bad files keep the old data."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui

GOOD_ROWS = [
    "1000025,5,1,1,1,2,1,3,1,1,2",
    "1002945,5,4,4,5,7,10,3,2,1,2",
    "1015425,3,1,1,1,2,2,3,1,1,2",
    "1016277,6,8,8,1,3,4,3,7,1,4",
    "1017023,4,1,1,3,2,1,3,1,1,2",
    "1017122,8,10,10,8,7,10,9,7,1,4",
]


@pytest.fixture
def small_csv(tmp_path):
    rows = GOOD_ROWS[:3] + ["1033078,2,1,1,1,2,?,2,1,1,2", "1035283,1,1,1,1,1,1,3,1,11,2"] + GOOD_ROWS[3:]
    path = tmp_path / "clinic.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_open_file_shows_counts_and_rejected_reasons(app, dialogs, small_csv, wait_until):
    tab = app.tabs["data"]
    dialogs.answer_open(small_csv)
    tab.open_button.invoke()
    wait_until(lambda: app.dataset.path.name == "clinic.csv")
    assert dialogs.calls[0][0] == "open"
    assert tab.counts_label.cget("text").split() == ["Rows", "read:", "8", "Usable:", "6", "Rejected:", "2"]
    assert "benign 4 (66.7%)" in tab.balance_label.cget("text")
    assert "malignant 2 (33.3%)" in tab.balance_label.cget("text")
    rejected = tab.rejected.rows()
    assert rejected == [("4", "1033078", "Bare Nuclei", "Bare Nuclei is missing"),
                        ("5", "1035283", "Mitoses", "Mitoses = 11 is outside 1..10")]
    assert tab.views.tab(tab.rejected, "text") == "Rejected rows (2)"
    preview = tab.preview.rows()
    assert len(preview) == 6 and preview[0][:3] == ("1", "1000025", "5")
    assert preview[3][-1].endswith("malignant")
    assert "clinic.csv (6 usable of 8)" in app.status.text()
    assert tab.file_label.cget("text") == str(small_csv)
    assert not dialogs.messages  # no popup for a usable file
    assert app.folder("data") == str(small_csv.parent)  # the next dialog starts there
    dialogs.answer_open(None)
    tab.open_dialog()
    assert dialogs.calls[-1] == ("open", "Open data", str(small_csv.parent))


def test_bad_file_shows_its_message_and_keeps_the_data(app, dialogs, tmp_path, wait_until):
    before = app.dataset
    bad = tmp_path / "notes.csv"
    bad.write_text("these are my notes\nnothing numeric here\n", encoding="utf-8")
    dialogs.answer_open(bad)
    app.open_data()  # File > Open data
    wait_until(lambda: dialogs.messages)
    kind, title, message = dialogs.last_message
    assert kind == "error"
    assert "notes.csv" in message and "Traceback" not in message
    assert app.dataset is before
    tab = app.tabs["data"]
    assert "previous data are kept" in tab.message_label.cget("text")
    assert tab.counts_label.cget("text").startswith("Rows read: 699")
    assert "breast-cancer-wisconsin.data" in app.status.text()


def test_missing_file_is_a_plain_message(app, dialogs, tmp_path, wait_until):
    dialogs.answer_open(tmp_path / "gone.csv")
    app.tabs["data"].open_dialog()
    wait_until(lambda: dialogs.messages)
    assert "gone.csv" in dialogs.last_message[2]
    assert app.dataset.n_read == 699


def test_histograms_split_by_class(app, wait_until):
    tab = app.tabs["data"]
    app.select_tab("data")
    wait_until(lambda: tab.plot is not None and tab.plot.draw_count > 0)
    axes = tab.plot.figure.axes
    assert len(axes) == 9
    assert axes[0].get_title() == "Clump thickness"
    # one patch of ten bars per class; together they count every usable row
    benign, malignant = (patch.get_data().values for patch in axes[0].patches)
    y = app.dataset.y
    assert benign.sum() == (y == 0).sum() and malignant.sum() == (y == 1).sum()
    assert benign[0] == ((app.dataset.X[:, 0] == 1) & (y == 0)).sum()  # clump thickness 1, benign
    legend = [t.get_text() for t in tab.plot.figure.legends[0].get_texts()]
    assert legend == ["benign (n=444)", "malignant (n=239)"]


def test_ctrl_o_opens_the_file_dialog(app, dialogs, root, small_csv, wait_until):
    dialogs.answer_open(small_csv)
    root.focus_force()
    root.update()
    root.event_generate("<Control-o>")
    wait_until(lambda: app.dataset.path.name == "clinic.csv")


def test_start_loads_bundled_data_in_background(make_app, wait_until):
    app = make_app(data=False, model=False)
    assert app.dataset is None
    ready = []
    app.start(on_ready=lambda: ready.append(True))
    wait_until(lambda: ready)
    assert app.dataset.n_usable == 683
    assert app.tabs["data"].counts_label.cget("text").startswith("Rows read: 699")


def test_bundled_data_is_named_not_shown_by_its_install_folder(app, wait_until):
    from bcdesktop.resources import bundled_data_path

    wait_until(lambda: app.dataset is not None)
    assert app.dataset.path == bundled_data_path()
    label = app.tabs["data"].file_label.cget("text")
    assert label.startswith("Bundled data set: breast-cancer-wisconsin.data")
    assert "CC BY 4.0" in label
    assert app.folder("data") != str(bundled_data_path().parent)  # never offered as "last folder"
    assert [icon.width() for icon in app._icons] == [16, 32, 64, 128]  # the window icon


def test_escape_stops_loading_and_keeps_the_data(app, press_escape, tmp_path, wait_until):
    import numpy as np

    before = app.dataset
    tab = app.tabs["data"]
    rng = np.random.default_rng(0)
    rows = np.column_stack([np.arange(300_000), rng.integers(1, 11, size=(300_000, 9)),
                            rng.choice([2, 4], size=300_000)])
    big = tmp_path / "big.csv"
    np.savetxt(big, rows, fmt="%d", delimiter=",")
    app.load_data(big)
    assert tab.job is not None
    press_escape()  # the app's "stop current work"
    wait_until(lambda: tab.job is None, timeout=20)
    assert app.dataset is before
    assert "Loading big.csv was stopped; the previous data are kept." in tab.message_label.cget("text")
    assert tab.counts_label.cget("text").startswith("Rows read: 699")
    assert "breast-cancer-wisconsin.data" in app.status.text()
    assert app.status.text().endswith("| Loading big.csv stopped.")  # not left at "Stopping..."
    assert not app.dialogs.messages


def test_many_rejected_rows_are_listed_up_to_a_limit(app, tmp_path, wait_until):
    from bcdesktop.gui.tab_data import REJECTED_ROWS

    tab = app.tabs["data"]
    n_bad = REJECTED_ROWS + 200
    lines = GOOD_ROWS + [f"{2000000 + i},5,1,1,1,2,?,3,1,1,2" for i in range(n_bad)]
    path = tmp_path / "many-missing.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    app.load_data(path)
    wait_until(lambda: app.dataset.path == path)
    assert app.dataset.n_rejected == n_bad
    rows = tab.rejected.rows()
    assert len(rows) == REJECTED_ROWS
    assert rows[0][:2] == (str(len(GOOD_ROWS) + 1), "2000000")  # the first ones, in file order
    assert tab.views.tab(tab.rejected, "text") == f"Rejected rows (first {REJECTED_ROWS:,} of {n_bad:,})"


def test_the_tab_says_how_the_file_was_read_and_which_column_is_which(app, tmp_path, wait_until):
    # an export of R's MASS::biopsy, with the unnamed row-name column R writes first
    rows = ['"","ID","V1","V2","V3","V4","V5","V6","V7","V8","V9","class"']
    rows += [f'"{i + 1}","{r.split(",")[0]}",{",".join(r.split(",")[1:10])},'
             f'"{"malignant" if r.endswith(",4") else "benign"}"' for i, r in enumerate(GOOD_ROWS)]
    path = tmp_path / "biopsy.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    tab = app.tabs["data"]
    app.load_data(path)
    wait_until(lambda: app.dataset.path.name == "biopsy.csv")
    text = tab.layout_label.cget("text")
    assert text.startswith("Read as: header row; columns V1..V9 read as the nine scores")
    matching = tab.columns.rows()
    assert matching[0] == ("column 1", "not used (copied through when scoring)")
    assert ("ID", "Sample code number") in matching and ("V6", "Bare Nuclei") in matching
    assert matching[-1] == ("class", "Class") and len(matching) == 12
    assert app.dataset.n_usable == len(GOOD_ROWS) and int(app.dataset.y.sum()) == 2


def test_a_headerless_ten_column_file_says_which_reading_was_taken(app, tmp_path, wait_until):
    path = tmp_path / "ids.csv"  # id + nine scores: the ids are no scores, so no doubt
    path.write_text("\n".join(r.rsplit(",", 1)[0] for r in GOOD_ROWS) + "\n", encoding="utf-8")
    tab = app.tabs["data"]
    app.load_data(path)
    wait_until(lambda: app.dataset.path.name == "ids.csv")
    assert "10 columns read as sample id + nine scores" in tab.layout_label.cget("text")
    assert tab.columns.rows()[0] == ("column 1", "Sample code number")


def test_load_bundled_goes_back_to_the_data_shipped_with_the_app(app, small_csv, wait_until):
    from bcdesktop.resources import bundled_data_path

    tab = app.tabs["data"]
    app.load_data(small_csv)
    wait_until(lambda: app.dataset.path == small_csv)
    done = []
    app.open_bundled_data(done=done.append)  # File > Open bundled data
    wait_until(lambda: done)
    assert done == [True]
    assert app.dataset.path == bundled_data_path() and app.dataset.n_read == 699
    assert tab.counts_label.cget("text").split()[:3] == ["Rows", "read:", "699"]
    assert tab.file_label.cget("text").startswith("Bundled data set: breast-cancer-wisconsin.data")
    assert "breast-cancer-wisconsin.data (683 usable of 699)" in app.status.text()


def test_histograms_are_drawn_in_a_worker_while_the_window_keeps_running(make_app, bundled, root, wait_until,
                                                                         held_drawing):
    import threading

    from bcdesktop.gui import plots

    drawing = held_drawing(plots, "draw_class_histograms")
    app = make_app(data=False)
    tab = app.tabs["data"]
    app.select_tab("data")
    app.set_dataset(bundled)
    wait_until(lambda: tab.plot is not None, timeout=20)
    assert drawing[0] is not threading.main_thread()
    assert tab.plot.drawn_by == drawing[0].name == "bcdesktop-draw-histograms"
    assert tab.plot.token is bundled and len(tab.plot.figure.axes) == 9
    assert (tab.plot.photo.width(), tab.plot.photo.height()) == (tab.plot.widget.winfo_width(),
                                                               tab.plot.widget.winfo_height())
    assert not app.busy  # the window's own drawing is no work for Escape to stop


def test_the_tk_thread_is_favoured_only_while_a_worker_reads_or_draws(app, small_csv, wait_until):
    import sys

    normal = sys.getswitchinterval()
    tab = app.tabs["data"]
    app.select_tab("data")
    app.load_data(small_csv)
    assert sys.getswitchinterval() < normal  # the GIL comes back to the window within a millisecond
    wait_until(lambda: app.dataset.path == small_csv and tab.plot is not None and tab.plot.token is app.dataset
               and not tab.plot.pending)
    assert sys.getswitchinterval() == normal


def test_histogram_counts_are_whole_numbers(app, small_csv, wait_until):
    tab = app.tabs["data"]
    app.select_tab("data")
    app.load_data(small_csv)  # six rows: counts of 0 to 2, which the default ticks split into halves
    wait_until(lambda: app.dataset.path == small_csv and tab.plot is not None and tab.plot.token is app.dataset)
    for ax in tab.plot.figure.axes:
        low, high = ax.get_ylim()
        ticks = [t for t in ax.get_yticks() if low <= t <= high]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), (ax.get_title(), ticks)
        assert all("." not in label.get_text() for label in ax.get_yticklabels())


def test_the_reason_column_takes_the_rest_of_the_table_and_a_selected_row_shows_it_in_full(app, root, tmp_path,
                                                                                         wait_until):
    from bcdesktop.gui import widgets
    from bcdesktop.gui.tab_data import TREE_BORDER

    path = tmp_path / "bad.csv"
    path.write_text("\n".join(GOOD_ROWS + ["1033078,11,?,abc,1,2,?,3,1,11,2"]) + "\n", encoding="utf-8")
    tab = app.tabs["data"]
    app.select_tab("data")
    app.load_data(path)
    wait_until(lambda: app.dataset.path == path)
    tab.views.select(tab.rejected)
    tree = tab.rejected.tree

    def widths():
        return [int(tree.column(c, "width")) for c in tree.cget("columns")]

    wait_until(lambda: tree.winfo_ismapped() and sum(widths()) == tree.winfo_width() - TREE_BORDER,
               message="the columns do not fill the table's width")
    assert tree.xview() == (0.0, 1.0)  # nothing hidden to the right
    assert widths()[-1] > widths()[2]  # the reason has the widest column
    for factor in (2.0, None):  # at twice the size the others leave less than 20 characters: it scrolls
        app.change_text_scale(factor)

        def fitted():
            room = tree.winfo_width() - TREE_BORDER - sum(widths()[:-1])
            return widths()[-1] == max(widgets.chars_width(tree, 20), room)

        wait_until(fitted)
    assert sum(widths()) == tree.winfo_width() - TREE_BORDER

    (reason,) = [row[3] for row in tab.rejected.rows()]
    assert reason.count(";") >= 3  # several problems, longer than the column
    assert tab.reason_label.cget("text") == "Select a row to read its reason in full."
    tree.selection_set(tree.get_children()[0])
    root.update()
    assert tab.reason_label.cget("text") == f"Line {len(GOOD_ROWS) + 1}, sample 1033078: {reason}"


def test_preview_headings_fit_their_columns(app, root, wait_until):
    import tkinter.font as tkfont

    tab = app.tabs["data"]
    app.select_tab("data")
    tab.views.select(tab.preview)
    tree = tab.preview.tree
    wait_until(lambda: tree.winfo_ismapped() and tree.get_children())
    font = tkfont.nametofont("BcBold", root=root)
    for factor in (None, 1.5):
        app.change_text_scale(factor)
        root.update()
        lines = 1
        for cid in tree.cget("columns"):
            heading = tree.heading(cid, "text").split("\n")
            lines = max(lines, len(heading))
            assert max(font.measure(line) for line in heading) + 6 <= int(tree.column(cid, "width")), heading
        assert lines == 2  # "Clump / thickness" ...
        first = tree.get_children()[0]
        tree.see(first)
        root.update()
        assert tree.bbox(first)[1] >= lines * font.metrics("linespace")  # the heading row holds both lines
