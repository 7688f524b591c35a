"""Smoke tests of the standalone executable built by ``pyinstaller build.spec``.

They start ``dist/bcdesktop/bcdesktop`` (the onedir build) and compare it with the app
run from source. Without that build they are skipped, saying so; with
``BCDESKTOP_REQUIRE_FROZEN=1`` (set by ``.ci/build_frozen.sh``) a missing build, Xvfb or
xdotool fails them instead. The one-file build (``dist/bcdesktop-onefile``) is tested
only when it is there.

Every run of the executable gets its own per-user folder and its own empty temp
directory (``TMPDIR``), and afterwards the temp directory must still be empty and the
bundle unchanged: settings, logs and caches go to the per-user folder only.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bcdesktop import __version__

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / "dist" / "bcdesktop"
EXE = DIST / ("bcdesktop.exe" if os.name == "nt" else "bcdesktop")
ONEFILE = REPO / "dist" / ("bcdesktop-onefile.exe" if os.name == "nt" else "bcdesktop-onefile")
REQUIRED = os.environ.get("BCDESKTOP_REQUIRE_FROZEN") == "1"
TIMEOUT = 120

MALIGNANT = ["5", "10", "10", "8", "7", "10", "9", "7", "1"]
BENIGN = ["5", "1", "1", "1", "2", "1", "3", "1", "1"]


def _missing(what: str) -> None:
    if REQUIRED:
        pytest.fail(f"{what} (BCDESKTOP_REQUIRE_FROZEN=1)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def exe() -> Path:
    if not EXE.is_file():
        _missing(f"no frozen build at {EXE.relative_to(REPO)}: build it with "
                 "'pyinstaller --noconfirm build.spec' (BCDESKTOP_REQUIRE_FROZEN=1 fails instead of skipping)")
    return EXE


def _bundle_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every path in the bundle with its size and modification time."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            state[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_size, st.st_mtime_ns)
    return state


class Sandbox:
    """A per-user folder, an empty temp directory and an environment without a display."""

    def __init__(self, tmp_path: Path):
        self.root = tmp_path
        self.home = tmp_path / "bcdesktop-home"
        self.tmpdir = tmp_path / "tmp"
        self.tmpdir.mkdir()
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLCONFIGDIR", "BCDESKTOP_HOME")}
        self.env.update(BCDESKTOP_HOME=str(self.home), TMPDIR=str(self.tmpdir), TEMP=str(self.tmpdir),
                        TMP=str(self.tmpdir))

    def leftovers(self) -> list[str]:
        return sorted(str(p.relative_to(self.tmpdir)) for p in self.tmpdir.rglob("*"))


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(tmp_path)


def run_frozen(exe: Path, args: list[str], box: Sandbox, *, env: dict | None = None,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run the executable; afterwards the temp dir must be empty and the bundle unchanged."""
    bundle = exe.parent
    before = _bundle_state(bundle) if bundle == DIST else None
    proc = subprocess.run([str(exe), *args], env=env or box.env, capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=box.root)
    if check:
        assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    assert box.leftovers() == [], f"{args} left files in the temp dir"
    if before is not None:
        assert _bundle_state(bundle) == before, f"{args} wrote into the bundle"
    return proc


def run_source(args: list[str], box: Sandbox) -> subprocess.CompletedProcess:
    """The same command from source, with the usual temp dir (the sandbox's is the build's)."""
    env = {**box.env, **{k: os.environ[k] for k in ("TMPDIR", "TEMP", "TMP") if k in os.environ}}
    for k in ("TMPDIR", "TEMP", "TMP"):
        if k not in os.environ:
            env.pop(k)
    proc = subprocess.run([sys.executable, "-m", "bcdesktop", *args], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=box.root)
    assert proc.returncode == 0, f"source {args} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return proc


# ------------------------------------------------------------------ the spec's excludes (no build needed)
def _spec_list(name: str) -> list[str]:
    """A list literal assigned to ``name`` in build.spec."""
    tree = ast.parse((REPO / "build.spec").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"build.spec has no {name} list")


_EXERCISE = """
import json, os, sys, tempfile
before = set(sys.modules)
import numpy as np
from bcdesktop.cli import main
from bcdesktop import metrics, resources
with tempfile.TemporaryDirectory() as d:
    runs = [["predict", *MALIGNANT, "--json"],
            ["train", "--iterations", "50", "--json", "--out", os.path.join(d, "m.npz")],
            ["evaluate", "--folds", "2", "--repeats", "1", "--json"],
            ["score", str(resources.bundled_data_path()), "-o", os.path.join(d, "s.csv")],
            ["threshold", "--youden", "--json"],
            ["threshold", "--cost-ratio", "5", "--prevalence", "0.05", "--json"],
            ["threshold", "--sensitivity", "0.95", "--bound", "--json"],
            ["landscape", "--grid", "5", "--directions", "pca", "--json", "-o", os.path.join(d, "l.png")],
            ["lr-find", "--steps", "30", "--json"],
            ["predict", *MALIGNANT, "--report", os.path.join(d, "r.pdf")],
            ["audit", "--verify"], ["audit", "--json"], ["card", "-o", os.path.join(d, "c.html")]]
    for args in runs:
        assert main(args) == 0, args
y, p = np.tile([0, 1], 20), np.linspace(0.01, 0.99, 40)
metrics.roc_curve_auc(y, p), metrics.brier(y, p), metrics.calibration(y, p, 5)
from bcdesktop import calibrate, decision
for kind in calibrate.KINDS:
    calibrate.fit_recalibration(kind, p, y).apply(p)
calibrate.calibration_summary(p, y), decision.decision_curve(p, y)
import bcdesktop.gui.app, bcdesktop.gui.plots
json.dump(sorted(set(sys.modules) - before), open(sys.argv[1], "w"))
"""


def test_the_app_never_imports_what_the_spec_excludes(tmp_path):
    """Every command and the core's scikit-learn paths, from source: none of them may
    import a module that build.spec leaves out of the bundle."""
    out = tmp_path / "modules.json"
    script = f"MALIGNANT = {MALIGNANT!r}\n" + _EXERCISE
    env = {**os.environ, "BCDESKTOP_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", script, str(out)], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = json.loads(out.read_text())
    assert "sklearn.model_selection" in imported and "sklearn.calibration" in imported
    excluded = _spec_list("EXCLUDES")
    hits = sorted(m for m in imported for x in excluded if m == x or m.startswith(x + "."))
    assert hits == [], "build.spec excludes modules the app imports"


_BLOCK = """
import sys
class _Absent:
    # a meta-path finder that makes these modules absent, as they are from the bundle
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (left out of the bundle)", name=name)
sys.meta_path.insert(0, _Absent())
"""


def test_the_app_works_without_what_the_spec_leaves_out_though_imported(tmp_path):
    """pandas, ssl and OpenSSL's hashes are imported by scikit-learn and asyncio only when
    present (try/except ImportError) and never used: every command and the window's
    modules, from source, with them made absent."""
    out = tmp_path / "modules.json"
    blocked = sorted({m.split(".")[0] for m in _spec_list("IMPORTED_BUT_UNUSED")})
    assert "pandas" in blocked
    script = f"BLOCKED = {blocked!r}\n" + _BLOCK + f"MALIGNANT = {MALIGNANT!r}\n" + _EXERCISE
    env = {**os.environ, "BCDESKTOP_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-c", script, str(out)], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = json.loads(out.read_text())
    assert not [m for m in imported if m.split(".")[0] in blocked]


_FAKE_FROZEN = """
import os, sys
sys.frozen, sys._MEIPASS = True, sys.argv[1]
from bcdesktop import resources
resources.configure_frozen_runtime()
mpl = os.environ.get("MPLCONFIGDIR")
print(mpl)
assert mpl and os.path.isdir(mpl) and os.access(mpl, os.W_OK)
try:
    resources.user_dir()
except OSError as exc:
    print("user_dir:", exc.strerror)
"""


@pytest.mark.parametrize("home", ["/dev/null", "/nonexistent", "relative"])
def test_the_start_up_hook_never_fails_without_a_home(tmp_path, home):
    """The runtime hook with no usable home folder (a service account): no traceback, one
    line saying so, matplotlib's cache in a temporary folder that is gone after exit, and
    nothing created in the home's place (as root, /nonexistent could be made)."""
    if home == "/nonexistent" and os.path.lexists(home):
        pytest.skip("/nonexistent exists on this machine")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("BCDESKTOP_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR")}
    env.update(HOME=home, TMPDIR=str(tmpdir))
    proc = subprocess.run([sys.executable, "-c", _FAKE_FROZEN, str(tmp_path / "bundle")], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("bcdesktop: no writable "), proc.stderr
    mpl = Path(proc.stdout.splitlines()[0])
    assert mpl.parent == tmpdir and not mpl.exists()  # removed at exit
    assert proc.stdout.splitlines()[1].startswith("user_dir: ")
    assert list(tmpdir.iterdir()) == []
    assert not Path("/nonexistent").exists()
    assert not (tmp_path / "relative").exists()


# ------------------------------------------------------------------ command line, no display
def test_version_is_the_source_version(exe, sandbox):
    assert run_frozen(exe, ["--version"], sandbox).stdout.strip() == f"bcdesktop {__version__}"


@pytest.mark.parametrize("scores, call", [(MALIGNANT, "malignant"), (BENIGN, "benign")], ids=["malignant", "benign"])
def test_predict_equals_the_source_run(exe, sandbox, scores, call):
    frozen = json.loads(run_frozen(exe, ["predict", *scores, "--json"], sandbox).stdout)
    source = json.loads(run_source(["predict", *scores, "--json"], sandbox).stdout)
    assert frozen["probability"] == pytest.approx(source["probability"], abs=1e-12, rel=0)
    # one audit trail for both runs: the frozen one's entry comes first
    assert (frozen["audit_entry"], source["audit_entry"]) == (1, 2)
    assert {k: v for k, v in frozen.items() if k not in ("probability", "audit_entry")} == \
        {k: v for k, v in source.items() if k not in ("probability", "audit_entry")}
    assert frozen["prediction"] == call


def test_report_audit_and_card_from_the_executable(exe, sandbox):
    """The PDF backend and sqlite3 are in the bundle: a report, the audit trail, a card."""
    pdf, card = sandbox.root / "report.pdf", sandbox.root / "card.html"
    out = json.loads(run_frozen(exe, ["predict", *MALIGNANT, "--json", "--report", str(pdf)], sandbox).stdout)
    assert out["report"] == str(pdf) and out["audit_entry"] == 1
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"/FontFile2" in data  # fonts embedded (TrueType)
    assert re.findall(rb"/Count \d+", data) == [b"/Count 1"]  # one page
    entries = json.loads(run_frozen(exe, ["audit", "--json"], sandbox).stdout)
    assert [e["kind"] for e in entries] == ["prediction", "report"]
    assert entries[0]["output"]["probability"] == pytest.approx(out["probability"], abs=1e-12)
    verified = run_frozen(exe, ["audit", "--verify"], sandbox)
    assert "intact: 2 entries" in verified.stdout
    run_frozen(exe, ["card", "-o", str(card)], sandbox)
    assert out["model"] in card.read_text(encoding="utf-8")


def test_score_writes_the_same_file_as_the_source_run(exe, sandbox):
    lines = (REPO / "data" / "breast-cancer-wisconsin.data").read_text().splitlines()[:40]
    lines.insert(5, "999,1,2,3,4,5,6,7,8,11,2")  # out of range: a rejected row
    csv = sandbox.root / "patients.csv"
    csv.write_text("\n".join(lines) + "\n")
    frozen = run_frozen(exe, ["score", str(csv), "-o", str(sandbox.root / "frozen.csv")], sandbox)
    source = run_source(["score", str(csv), "-o", str(sandbox.root / "source.csv")], sandbox)
    out = (sandbox.root / "frozen.csv").read_bytes()
    assert out == (sandbox.root / "source.csv").read_bytes()
    assert out.count(b"\n") == len(lines) + 1  # a header, then every row, rejected ones with a reason
    assert frozen.stderr.splitlines()[-1] == source.stderr.splitlines()[-1]  # the summary
    assert "rejected 2" in frozen.stderr  # line 24's missing Bare Nuclei and our Mitoses = 11


def test_train_json_matches_the_source_run(exe, sandbox):
    args = ["train", "--iterations", "200", "--json", "--out"]
    frozen = json.loads(run_frozen(exe, [*args, str(sandbox.root / "frozen.npz")], sandbox).stdout)
    source = json.loads(run_source([*args, str(sandbox.root / "source.npz")], sandbox).stdout)
    assert frozen["iterations_run"] == 200 and frozen["stopped"] == "completed"
    assert (sandbox.root / "frozen.npz").stat().st_size > 0
    assert frozen["validation"]["accuracy"] > 0.85
    assert frozen["calibration_pairs"]["n"] == 683 and frozen["calibration_pairs"]["repeats"] == 5
    assert [it for it, *_ in frozen["loss_curve"]] == [it for it, *_ in source["loss_curve"]]
    assert [loss for _, loss, _ in frozen["loss_curve"]] == pytest.approx(
        [loss for _, loss, _ in source["loss_curve"]], rel=1e-9)
    # the frozen model file is a model the source app can use
    check = json.loads(run_source(["predict", *MALIGNANT, "--json", "--model",
                                   str(sandbox.root / "frozen.npz")], sandbox).stdout)
    assert check["model"] == frozen["model_id"]


def test_threshold_and_the_interval_match_the_source_run(exe, sandbox):
    args = ["threshold", "--cost-ratio", "10", "--json"]
    frozen = json.loads(run_frozen(exe, args, sandbox).stdout)
    source = json.loads(run_source(args, sandbox).stdout)
    assert frozen["threshold"] == source["threshold"] and frozen["chosen_by"] == source["chosen_by"]
    assert frozen["metrics"]["sensitivity"] == pytest.approx(source["metrics"]["sensitivity"], rel=1e-12)
    frozen = json.loads(run_frozen(exe, ["predict", *MALIGNANT, "--json"], sandbox).stdout)
    source = json.loads(run_source(["predict", *MALIGNANT, "--json"], sandbox).stdout)
    assert frozen["interval"] == pytest.approx(source["interval"], abs=1e-12)
    assert frozen["explanation"]["base"] == pytest.approx(source["explanation"]["base"], abs=1e-9)
    assert frozen["evidence"] == source["evidence"]


def test_evaluate_json(exe, sandbox):
    result = json.loads(run_frozen(exe, ["evaluate", "--folds", "2", "--repeats", "1", "--json"],
                                   sandbox).stdout)
    assert result["folds"] == 2 and result["repeats"] == 1
    assert 0.85 < result["accuracy"]["mean"] <= 1.0
    assert 0.9 < result["roc_auc"]["mean"] <= 1.0


def test_user_error_is_one_plain_line(exe, sandbox):
    proc = run_frozen(exe, ["predict", "1", "2", "3"], sandbox, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_gui_without_a_display_says_so(exe, sandbox):
    proc = run_frozen(exe, ["gui", "--self-test"], sandbox, check=False)
    assert proc.returncode == 2
    assert "display" in proc.stderr.lower() and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ the window, under Xvfb
@pytest.fixture(scope="module")
def display():
    """A private Xvfb for these tests (module scope: started once)."""
    from bcdesktop.gui import xvfb

    if not xvfb.installed():
        _missing("Xvfb is not installed (apt-get install xvfb)")
    with xvfb.Xvfb() as server:
        yield server.name


@pytest.fixture
def xdotool():
    if not shutil.which("xdotool"):
        _missing("xdotool is not installed (apt-get install xdotool)")
    return "xdotool"


def _windows(env: dict) -> list[str]:
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^bcdesktop"],
                           env=env, capture_output=True, text=True)
    return found.stdout.split()


def _settle(env: dict, quiet: float = 1.0, timeout: float = 60.0) -> None:
    """Wait until the number of visible X windows (every Tk widget is one) has not changed
    for ``quiet`` seconds: a tab's widgets, plots and toolbar have been built by then."""
    last, since = None, time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline:
        count = len(subprocess.run(["xdotool", "search", "--onlyvisible", "--name", ""], env=env,
                                   capture_output=True, text=True).stdout.split())
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)
    raise AssertionError(f"the window kept changing for {timeout:.0f} s")


def _wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _log_problems(log: Path) -> list[str]:
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    return [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]


def test_gui_self_test_predicts_and_closes(exe, sandbox, display):
    env = {**sandbox.env, "DISPLAY": display}
    proc = run_frozen(exe, ["gui", "--self-test"], sandbox, env=env)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["self_test"] == "ok" and result["prediction"] == "malignant"
    assert 0.5 < result["probability"] <= 1.0
    assert "Traceback" not in proc.stderr
    log = sandbox.home / "bcdesktop.log"
    assert "window closed" in log.read_text(encoding="utf-8")
    assert _log_problems(log) == []
    assert (sandbox.home / "settings.json").is_file()


def test_window_tabs_draw_and_quit_cleanly_with_default_user_folders(exe, sandbox, display, xdotool):
    """Driven with xdotool like a person: the title; Alt+2, Alt+4, Alt+1 show the Train
    tab's loss plot with matplotlib's toolbar (its icons need PIL._tkinter_finder), the
    Threshold tab's pictures and the Data tab's histograms; Ctrl+Q quits. A failure in
    any of them is logged as an ERROR with its traceback. Without BCDESKTOP_HOME,
    settings, log and matplotlib's cache land in the XDG folders under $HOME."""
    home = sandbox.root / "user"
    home.mkdir()  # a home that does not exist is no home (see test_commands_run_without_a_writable_home)
    env = {k: v for k, v in sandbox.env.items() if k not in ("BCDESKTOP_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), DISPLAY=display)
    config = home / ".config" / "bcdesktop"
    log = config / "bcdesktop.log"
    ready = sandbox.root / "ready"
    before = _bundle_state(DIST)
    app = subprocess.Popen([str(exe), "gui", "--ready-file", str(ready)], env=env, cwd=sandbox.root,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def keys(*names: str) -> None:
        subprocess.run(["xdotool", "key", "--window", window, *names], env=env, check=True, timeout=30)

    try:
        _wait_for(lambda: ready.exists() and ready.read_text().strip(), what="the ready file")
        window = _wait_for(lambda: _windows(env), what="a visible bcdesktop window")[0]
        title = subprocess.run(["xdotool", "getwindowname", window], env=env, capture_output=True,
                               text=True).stdout
        assert title.startswith(f"bcdesktop {__version__}")
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=True, timeout=30)
        for tab in ("alt+2", "alt+4", "alt+1"):
            keys(tab)
            _settle(env)
            assert _log_problems(log) == [], f"after {tab}"
        assert list((home / ".cache" / "bcdesktop" / "matplotlib").glob("fontlist-*.json")), \
            "matplotlib's font cache is not in ~/.cache/bcdesktop/matplotlib"
        keys("ctrl+q")
        out, err = app.communicate(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
    assert app.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    assert "findfont" not in err, "a font matplotlib looks for is not in the bundle (build.spec unused_fonts)"
    assert _log_problems(log) == []
    assert "window closed" in log.read_text(encoding="utf-8")
    assert (config / "settings.json").is_file()
    assert _windows(env) == []
    assert sandbox.leftovers() == []
    assert _bundle_state(DIST) == before


def test_killed_window_leaves_nothing_in_the_temp_dir(exe, sandbox, display):
    env = {**sandbox.env, "DISPLAY": display}
    ready = sandbox.root / "ready"
    app = subprocess.Popen([str(exe), "gui", "--ready-file", str(ready)], env=env, cwd=sandbox.root,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: ready.exists() and ready.read_text().strip(), what="the ready file")
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait(30)
    assert sandbox.leftovers() == []


# ------------------------------------------------------------------ no writable home folder
def _homeless_env(box: Sandbox, home: str) -> dict:
    """A service account: HOME unusable, no XDG folders, no BCDESKTOP_HOME."""
    env = {k: v for k, v in box.env.items()
           if k not in ("BCDESKTOP_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")}
    env["HOME"] = home
    return env


NOTICE = "bcdesktop: no writable per-user folder ("


@pytest.fixture(params=["/dev/null", "/nonexistent"])
def no_home(request) -> str:
    if request.param == "/nonexistent" and os.path.lexists(request.param):
        pytest.skip("/nonexistent exists on this machine")
    yield request.param
    assert not os.path.lexists("/nonexistent"), "the app made the missing home folder"


def test_commands_run_without_a_writable_home(exe, sandbox, no_home):
    """HOME=/dev/null or a service account's HOME=/nonexistent: the start-up hook used to
    end every command, --version included, with a 20-line traceback. Now one line says
    so, and the temporary matplotlib cache is gone after the run (run_frozen checks)."""
    env = _homeless_env(sandbox, no_home)
    proc = run_frozen(exe, ["--version"], sandbox, env=env)
    assert proc.stdout.strip() == f"bcdesktop {__version__}"
    assert proc.stderr.startswith(NOTICE) and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert no_home in proc.stderr
    proc = run_frozen(exe, ["predict", *MALIGNANT, "--json"], sandbox, env=env)
    assert json.loads(proc.stdout)["prediction"] == "malignant"
    # the notice, and the audit trail's one line: it has no folder either
    lines = proc.stderr.splitlines()
    assert proc.stderr.startswith(NOTICE) and len(lines) == 2, proc.stderr
    assert lines[1].startswith("warning: The audit trail cannot be kept"), proc.stderr
    assert json.loads(proc.stdout)["audit_entry"] is None


def test_window_self_test_runs_without_a_writable_home(exe, sandbox, display, no_home):
    """The window opens on default settings kept in memory, the log goes to the terminal,
    matplotlib's cache to a temporary folder removed at exit: no traceback, one notice
    from the start-up hook (the app's own lines after it are its log on stderr)."""
    env = {**_homeless_env(sandbox, no_home), "DISPLAY": display}
    proc = run_frozen(exe, ["gui", "--self-test"], sandbox, env=env)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["self_test"] == "ok" and result["prediction"] == "malignant"
    assert "Traceback" not in proc.stderr and " ERROR " not in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.count(NOTICE) == 1 and proc.stderr.startswith(NOTICE), proc.stderr[-3000:]


# ------------------------------------------------------------------ the menu entry
def test_the_menu_entry_starts_this_executable(exe, sandbox, display):
    """install-desktop-entry from the build names the executable by absolute path; its
    Exec line, run as a desktop runs it, opens the window; uninstall removes it all."""
    from bcdesktop.desktop_entry import exec_argv, read_entry

    data = sandbox.root / "share"
    env = {**sandbox.env, "XDG_DATA_HOME": str(data)}
    proc = run_frozen(exe, ["install-desktop-entry", "--no-cache-update"], sandbox, env=env)
    entry = data / "applications" / "bcdesktop.desktop"
    assert f"wrote {entry} (Exec=" in proc.stdout
    argv = exec_argv(read_entry(entry)["Exec"], ["/tmp/some file.csv"])
    assert argv == [str(exe), "gui", "/tmp/some file.csv"]
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout
    started = subprocess.run([*argv[:-1], "--self-test"], env={**env, "DISPLAY": display}, cwd=sandbox.root,
                             capture_output=True, text=True, timeout=TIMEOUT)
    assert started.returncode == 0, started.stderr[-3000:]
    assert json.loads(started.stdout.strip().splitlines()[-1])["self_test"] == "ok"
    run_frozen(exe, ["uninstall-desktop-entry", "--no-cache-update"], sandbox, env=env)
    assert not list(data.rglob("bcdesktop*"))


def test_the_bundle_leaves_out_pandas(exe):
    assert not (DIST / "_internal" / "pandas").exists()


# ------------------------------------------------------------------ the one-file build, when built
@pytest.fixture
def onefile() -> Path:
    if not ONEFILE.is_file():
        pytest.skip(f"no one-file build at {ONEFILE.relative_to(REPO)} "
                    "(BCDESKTOP_ONEFILE=1 pyinstaller --noconfirm build.spec)")
    return ONEFILE


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc")
def test_onefile_cleans_its_unpacked_copy_after_exit_and_sigterm(onefile, sandbox):
    """The bootloader unpacks into TMPDIR/_MEIxxxxxx and deletes it when the app ends,
    also when it is stopped with SIGTERM once unpacked (a signal during the unpacking
    itself, or SIGKILL of the bootloader, leaves the folder: see build.spec)."""
    proc = run_frozen(onefile, ["predict", *MALIGNANT, "--json"], sandbox)  # checks the temp dir
    assert json.loads(proc.stdout)["prediction"] == "malignant"
    app = subprocess.Popen([str(onefile), "evaluate", "--json"], env=sandbox.env, cwd=sandbox.root,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: _children(app.pid), what="the unpacked app to start")
        assert [p.name[:4] for p in sandbox.tmpdir.iterdir()] == ["_MEI"]
    finally:
        app.terminate()
        app.wait(60)
    assert app.returncode == -signal.SIGTERM
    assert sandbox.leftovers() == []
