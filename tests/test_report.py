"""report: the one-page PDF patient report, read back with poppler's pdftotext/pdfinfo.

Every figure is compared by its formatted text, as the page prints it. The PDFs are
drawn once per module (about half a second each); the write tests swap the drawing
for fixed bytes, since they test the writing only.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import shutil
import subprocess
import sys

import pytest

from bcdesktop import DISCLAIMER, persistence, predictor, report, resources
from bcdesktop.errors import UserError
from bcdesktop.metrics import format_percent
from bcdesktop.schema import FEATURES

WHEN = "2026-12-02T05:10:00Z"
MALIGNANT = [8, 10, 10, 8, 7, 10, 9, 7, 1]
BENIGN = [5, 1, 1, 1, 2, 1, 3, 1, 1]
BORDERLINE = [2, 3, 4, 4, 2, 5, 2, 5, 1]  # tests/test_predictor.py's indeterminate case


@pytest.fixture(scope="module")
def poppler():
    """pdftotext and pdfinfo, or a skip (a failure when BCDESKTOP_REQUIRE_GUI=1, as on CI)."""
    missing = [tool for tool in ("pdftotext", "pdfinfo") if shutil.which(tool) is None]
    if missing:
        reason = f"{' and '.join(missing)} not found: install poppler-utils to read the reports back"
        if os.environ.get("BCDESKTOP_REQUIRE_GUI") == "1":
            pytest.fail(reason + " (BCDESKTOP_REQUIRE_GUI=1)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def bundle():
    return persistence.load_default_model()


@dataclasses.dataclass
class Read:
    case: object
    bundle: object
    path: object
    text: str
    pages: int


def _read(path) -> tuple[str, int]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True, encoding="utf-8").stdout
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    return text, pages


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("reports")


def _report(folder, name, bundle, scores, threshold=None, **kwargs) -> Read:
    case = predictor.predict_case(bundle, scores, threshold=threshold)
    kwargs.setdefault("when_utc", WHEN)
    path = report.write_report(folder / f"{name}.pdf", case, bundle, **kwargs)
    return Read(case, bundle, path, *_read(path))


@pytest.fixture(scope="module")
def malignant(poppler, folder, bundle):
    return _report(folder, "malignant", bundle, MALIGNANT, audit_id=17, origin="shipped with bcdesktop")


@pytest.fixture(scope="module")
def benign(poppler, folder, bundle):
    return _report(folder, "benign", bundle, BENIGN, audit_id=3, origin="made on this installation",
                   threshold_note="set by hand in the Threshold tab")


@pytest.fixture(scope="module")
def indeterminate(poppler, folder, bundle):
    low, high = predictor.predict_case(bundle, BORDERLINE).interval
    read = _report(folder, "indeterminate", bundle, BORDERLINE, threshold=round((low + high) / 2, 6),
                   audit_id=123456, origin="shipped with bcdesktop")
    assert read.case.indeterminate
    return read


@pytest.fixture(scope="module")
def bare(poppler, folder, bundle):
    """No calibration pairs, no training patterns, no recalibration; external; no audit."""
    plain = bundle.with_parts(oof=None, patterns=None, recalibration=None)
    return _report(folder, "bare", plain, BENIGN, audit_id=None, origin="external model")


def _squeezed(text: str) -> str:
    return " ".join(text.split())


def _check_page(read: Read) -> None:
    """What every report shows, as the page prints it."""
    case, bundle, text = read.case, read.bundle, read.text
    flat = _squeezed(text)
    assert read.pages == 1
    assert "bcdesktop \u2013 malignancy estimate" in text and "2026-12-02 05:10 UTC" in text
    assert format_percent(case.probability) in text
    if case.interval is not None:
        low, high = (format_percent(v) for v in case.interval)
        assert f"Venn-Abers interval {low} to {high}" in text
    assert f"Call at threshold {case.threshold:g}: {case.call}" in flat
    for name, score in zip(FEATURES, case.scores):
        assert re.search(rf"^\s*{re.escape(name)}\s+{int(score)}\s+1 = ", text, re.M), name
    assert f"Model {bundle.model_id}" in text
    assert bundle.data_sha256 in text and bundle.file_sha256 in text
    assert DISCLAIMER in text


def test_a_malignant_case(malignant, bundle):
    _check_page(malignant)
    text, case = malignant.text, malignant.case
    assert case.call == "malignant"
    assert "Audit trail entry: #17" in text
    assert "shipped with bcdesktop" in text and "External model" not in text
    assert "the default 0.5, set at training" in text  # as the shipped model's file says
    figures = bundle.oof.figures
    sensitivity = f"{format_percent(figures['sensitivity']['mean'])} \u00b1 {format_percent(figures['sensitivity']['sd'])}"
    assert sensitivity in text
    assert f"{figures['roc_auc']['mean']:.3f}" in text
    assert f"{bundle.oof.folds} folds x {bundle.oof.repeats} repeats, duplicates kept together" in text


def test_the_waterfall_names_each_score_and_its_contribution(malignant):
    text = malignant.text
    for step in malignant.case.explanation.probability_steps():
        label = f"{step.feature} = {int(malignant.case.scores[step.index])}"
        line = next(line for line in text.splitlines() if label in line)
        assert report._signed(step.contribution) in line and format_percent(step.after) in line
    assert "Average case" in text and "This case" in text
    assert f"(on average {format_percent(malignant.case.explanation.base_probability)})" in text
    assert malignant.case.evidence.sentence() in _squeezed(text)


def test_a_benign_case_with_the_callers_threshold_note(benign):
    _check_page(benign)
    assert benign.case.call == "benign"
    assert "Threshold: set by hand in the Threshold tab" in benign.text
    assert "made on this installation" in benign.text and "Audit trail entry: #3" in benign.text


def test_an_indeterminate_case(indeterminate, bundle):
    _check_page(indeterminate)
    text = indeterminate.text
    assert "indeterminate at this threshold" in text
    assert f"set for this prediction (the model's own threshold is {bundle.threshold:g})" in _squeezed(text)
    if indeterminate.case.outside_interval is not None:
        assert f"lies {indeterminate.case.outside_interval} its interval" in text
    assert "Audit trail entry: #123456" in text


def test_a_model_without_evidence_external_and_unaudited(bare):
    _check_page(bare)
    case, text = bare.case, bare.text
    assert case.interval is None and case.explanation is None and case.evidence is None
    assert report.NO_INTERVAL in text
    for sentence in (report.NO_EXPLANATION, report.NO_EVIDENCE, report.NO_CV):
        assert sentence in text
    assert "Venn-Abers interval" not in text and "Sensitivity" not in text
    assert f"Audit trail entry: {report.NO_AUDIT}" in text
    assert "external model" in text and "External model: it was neither made" in text


def test_the_same_report_gives_the_same_bytes(malignant):
    again = report.report_pdf_bytes(malignant.case, malignant.bundle, audit_id=17,
                                    origin="shipped with bcdesktop", when_utc=WHEN)
    assert again == malignant.path.read_bytes()
    assert b"D:20261202051000Z" in again and b"/FontFile2" in again  # its own time; TrueType


def test_the_threshold_note_without_a_callers_note(bundle):
    case = predictor.predict_case(bundle, BENIGN)
    assert report.threshold_text(case, bundle) == "the default 0.5, set at training"  # the shipped file's
    unknown = bundle.with_parts(threshold_chosen_by=None)  # a file from before it was recorded
    assert report.threshold_text(case, unknown).startswith("the model's own threshold")
    chosen = bundle.with_threshold(bundle.threshold, chosen_by="the highest threshold with sensitivity >= 98%")
    assert report.threshold_text(case, chosen) == "the highest threshold with sensitivity >= 98%"
    moved = predictor.predict_case(bundle, BENIGN, threshold=0.3)
    assert report.threshold_text(moved, chosen).startswith("set for this prediction")
    assert report.threshold_text(moved, chosen, "set by hand") == "set by hand"


def test_the_fullest_page_still_fits_above_the_footer(bundle):
    """Outside its interval, unusual, external, the longest notes, long feature names:
    some level of the layout fits, and the figure has one page's worth of drawing."""
    import matplotlib

    case = predictor.predict_case(bundle, BORDERLINE, threshold=0.01)
    low = case.probability / 2
    names = tuple(f"A very long feature name number {i} that goes on and on" for i in range(9))
    case = dataclasses.replace(case, interval=(low, low), evidence=dataclasses.replace(case.evidence, unusual=True),
                               explanation=dataclasses.replace(case.explanation, features=names))
    assert case.outside_interval == "above"
    long_bundle = bundle.with_parts(features=names)
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fits = [report._draw(case, long_bundle, audit_id=None, origin="external model " * 20,
                             threshold_note="set by hand in the Threshold tab " * 15, when_utc=WHEN,
                             level=level)[1:] for level in range(len(report._LEVELS))]
    assert any(bottom <= footer for bottom, footer in fits), fits


def test_the_module_draws_without_pyplot_or_tkinter():
    code = ("import sys; import bcdesktop.report as r; assert 'matplotlib' not in sys.modules; "
            "from bcdesktop import persistence, predictor; b = persistence.load_default_model(); "
            "c = predictor.predict_case(b, [5, 1, 1, 1, 2, 1, 3, 1, 1], explain=False); "
            "assert r.report_pdf_bytes(c, b, audit_id=None, origin='x').startswith(b'%PDF'); "
            "bad = [m for m in ('tkinter', 'matplotlib.pyplot') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# ----------------------------------------------------------------------------- writing

@pytest.fixture
def quick(monkeypatch, bundle):
    """A case, and report_pdf_bytes swapped for fixed bytes: these tests are about writing."""
    monkeypatch.setattr(report, "report_pdf_bytes", lambda *a, **k: b"%PDF-1.4 new report")
    return predictor.predict_case(bundle, BENIGN, explain=False)


def _write(path, case, bundle, **kwargs):
    return report.write_report(path, case, bundle, audit_id=None, origin="shipped with bcdesktop", **kwargs)


def _one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_a_failed_write_leaves_the_old_report_and_no_partial_file(quick, bundle, tmp_path, monkeypatch):
    path = tmp_path / "report.pdf"
    path.write_bytes(b"old report")

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(resources.os, "fsync", full_disk)
    with pytest.raises(UserError) as exc:
        _write(path, quick, bundle)
    assert "No space left on device" in _one_line(exc)
    assert path.read_bytes() == b"old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]
    monkeypatch.undo()
    monkeypatch.setattr(report, "report_pdf_bytes", lambda *a, **k: b"%PDF-1.4 new report")
    assert _write(path, quick, bundle) == path and path.read_bytes() == b"%PDF-1.4 new report"


def test_an_input_is_never_written_over(quick, bundle, tmp_path):
    model = tmp_path / "model.npz"
    model.write_bytes(b"the model in use")
    with pytest.raises(UserError) as exc:
        _write(model, quick, bundle, inputs=[model])
    assert "must not be replaced" in _one_line(exc)
    (tmp_path / "link.pdf").symlink_to(model)
    with pytest.raises(UserError):
        _write(tmp_path / "link.pdf", quick, bundle, inputs=[model])
    assert model.read_bytes() == b"the model in use"


def test_a_bundled_file_or_folder_is_refused(quick, bundle):
    shipped = resources.default_model_path()
    before = shipped.read_bytes()
    with pytest.raises(UserError) as exc:
        _write(shipped, quick, bundle)
    assert "shipped with bcdesktop" in _one_line(exc)
    beside = shipped.parent / "bcdesktop-test-report.pdf"
    with pytest.raises(UserError):
        _write(beside, quick, bundle)
    assert not beside.exists() and shipped.read_bytes() == before


def test_a_folder_a_pipe_or_a_missing_folder_is_one_sentence(quick, bundle, tmp_path):
    with pytest.raises(UserError) as exc:
        _write(tmp_path, quick, bundle)
    assert "is a folder" in _one_line(exc)
    with pytest.raises(UserError) as exc:
        _write(tmp_path / "missing" / "report.pdf", quick, bundle)
    assert "does not exist" in _one_line(exc)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.pdf"
        os.mkfifo(fifo)
        with pytest.raises(UserError) as exc:
            _write(fifo, quick, bundle)
        assert "not a file" in _one_line(exc)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["pipe.pdf"] if hasattr(os, "mkfifo") else [])


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="needs a user who cannot write in a read-only folder (not root)")
def test_a_read_only_folder_is_one_sentence(quick, bundle, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(UserError) as exc:
            _write(locked / "report.pdf", quick, bundle)
        assert "Cannot write the report" in _one_line(exc)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_a_folder_that_refuses_the_file_is_one_sentence(quick, bundle, tmp_path, monkeypatch):
    """As a read-only folder answers (simulated: root may write anywhere)."""
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(UserError) as exc:
        _write(tmp_path / "report.pdf", quick, bundle)
    assert "Permission denied" in _one_line(exc) and "Choose a folder you can write to" in str(exc.value)
    assert list(tmp_path.iterdir()) == []


def test_a_dollar_sign_in_the_model_file_is_printed_as_it_is(bundle, tmp_path, poppler):
    """A note from the model file is text, never mathtext (which could fail to parse)."""
    note = "a cost of $5 per missed case, $\\frac{ as typed"
    chosen = bundle.with_threshold(bundle.threshold, chosen_by=note)
    case = predictor.predict_case(chosen, BENIGN)
    path = report.write_report(tmp_path / "dollar.pdf", case, chosen, audit_id=3, origin="external model")
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert note in text
