"""The model card: every figure as the model file has it, both renderings the same
sections, hostile text escaped, and write_card's refusals and atomic write."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from bcdesktop import DISCLAIMER, card, decision, metrics, resources
from bcdesktop.calibrate import calibration_summary, fit_recalibration
from bcdesktop.cli import main
from bcdesktop.errors import UserError
from bcdesktop.metrics import format_percent, format_rate
from bcdesktop.persistence import load_default_model, load_model

HOSTILE = "<script>x</script>.csv"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small model trained on the bundled data, with its out-of-fold evidence and
    provenance, read back from its file."""
    path = tmp_path_factory.mktemp("card") / "model.npz"
    assert main(["train", "--iterations", "300", "--out", str(path), "--json"]) == 0
    bundle = load_model(path)
    assert bundle.oof is not None and bundle.provenance is not None
    return bundle


@pytest.fixture(scope="module")
def both(trained):
    c = card.model_card(trained, origin="made on this installation")
    return c.markdown(), c.html()


def _no_oof(bundle):
    """The same model as an older file would have it: no cross-validation, no
    provenance, no validation split."""
    m = {k: v for k, v in bundle.metrics.items() if k != "validation"}
    return bundle.with_parts(oof=None, provenance=None, patterns=None, metrics=m,
                             eval_probs=None, eval_labels=None, eval_kind=None)


def _plain(text: str) -> str:
    """Markdown without its backslash escapes, for looking figures up."""
    return re.sub(r"\\(.)", r"\1", text)


def _headings(md: str, html: str) -> tuple[list[str], list[str]]:
    return (re.findall(r"^## (.+)$", md, flags=re.M), re.findall(r"<h2>(.+?)</h2>", html))


def test_cross_validation_figures_are_the_files(trained, both):
    md, html = both
    fig = trained.oof.figures
    for key, label in (("accuracy", "Accuracy"), ("sensitivity", "Sensitivity"),
                       ("specificity", "Specificity")):
        row = f"| {label} | {format_percent(fig[key]['mean'])} | {format_percent(fig[key]['sd'])} |"
        assert row in md
        assert (f"<tr><td>{label}</td><td>{format_percent(fig[key]['mean'])}</td>"
                f"<td>{format_percent(fig[key]['sd'])}</td></tr>") in html
    for key, label in (("roc_auc", "ROC AUC"), ("brier", "Brier score")):
        assert f"| {label} | {fig[key]['mean']:.3f} | {fig[key]['sd']:.3f} |" in md
    assert f"{trained.oof.folds}-fold cross-validation repeated {trained.oof.repeats} times" in md
    assert f"{fig['n_groups']:,} distinct score patterns among {trained.oof.n:,} rows" in md


def test_pooled_calls_are_the_oof_pairs_at_the_models_threshold(trained, both):
    md, _ = both
    oof, t = trained.oof, trained.threshold
    m = decision.evidence_metrics(oof.probs, oof.labels, t)
    # the counts are metrics' own on every pooled pair; the interval is Wilson's at n rows
    pp, yy = oof.pooled()
    c = metrics.confusion(yy, pp, t)
    assert (m.tp, m.fn, m.tn, m.fp) == (c.tp, c.fn, c.tn, c.fp)
    z = metrics.Z_95 * math.sqrt(oof.repeats)
    assert (m.sensitivity.low, m.sensitivity.high) == metrics.wilson_interval(c.tp, c.tp + c.fn, z)
    for label, rate in (("Sensitivity", m.sensitivity), ("Specificity", m.specificity),
                        ("Accuracy", m.accuracy)):
        assert f"| {label} | {format_rate(rate)} | {rate.k:,}/{rate.n:,} |" in md


def test_calibration_and_validation_split_are_the_files(trained, both):
    md, _ = both
    s = calibration_summary(trained.oof.probs, trained.oof.labels)
    assert f"| Calibration intercept (0 ideal) | {s.intercept:.3f} |" in md
    assert f"| Calibration slope (1 ideal) | {s.slope:.3f} |" in md
    v = trained.metrics["validation"]
    rate = format_rate(metrics.Rate(v["sensitivity"], *v["sensitivity_ci"], 0, 1))
    assert rate in md
    assert f"The single validation split (one split, not cross-validated): {v['n']} rows" in _plain(md)


def test_identity_data_settings_and_versions_appear(trained, both):
    prov, settings = trained.provenance, trained.settings
    k = int(trained.oof.labels.sum())
    for text in both:
        text = _plain(text) if not text.startswith("<!DOCTYPE") else text.replace("&#x27;", "'")
        for value in (trained.model_id, trained.file_sha256, trained.data_sha256, trained.created_utc,
                      f"bcdesktop {trained.app_version}", prov["software"]["python"],
                      prov["software"]["numpy"], prov["software"]["platform"], prov["data"]["file"],
                      f"{settings['lr']:g}", str(settings["iterations"]), settings["optimizer"],
                      f"{settings['l2']:g}", "Wisconsin Breast Cancer (Original)", DISCLAIMER,
                      f"{trained.oof.n - k:,} benign, {k:,} malignant", "Bare Nuclei"):
            assert value in text, value
    md = _plain(both[0])
    for key, label in (("rows_read", "Rows read"), ("rows_used", "Rows used"),
                       ("rows_rejected", "Rows left out")):
        assert f"**{label}:** {prov['data'][key]:,}" in md
    assert f"| Bare Nuclei | {prov['data']['rejected_by_column']['Bare Nuclei']} |" in md
    assert "-".join(map(str, trained.network.layer_sizes)) in md


def test_both_renderings_carry_the_same_sections(both):
    md_titles, html_titles = _headings(*both)
    assert md_titles == html_titles == list(card.SECTION_TITLES)


def test_a_model_without_cross_validation_says_so(trained):
    c = card.model_card(_no_oof(trained))
    md, html = c.markdown(), c.html()
    assert "holds no cross-validation figures" in md and "holds no cross-validation figures" in html
    assert "`bcdesktop evaluate`" in md and "<code>bcdesktop evaluate</code>" in html
    assert "records no software versions" in md and "records no training file name" in md
    assert "holds no validation-split figures" in md
    assert "Not known" in md
    # the class balance still comes from the file: the training split's counts
    tr = trained.metrics["train"]
    assert f"train: {tr['tn'] + tr['fp']:,} benign, {tr['tp'] + tr['fn']:,} malignant" in md
    assert _headings(md, html)[0] == list(card.SECTION_TITLES)


@pytest.mark.parametrize("variant", ["trained", "no_oof", "shipped"])
def test_no_undefined_values_leak_into_the_text(trained, variant):
    bundle = {"trained": trained, "no_oof": _no_oof(trained), "shipped": load_default_model()}[variant]
    c = card.model_card(bundle)
    for text in (c.markdown(), c.html()):
        assert not re.search(r"\bNone\b", text)
        assert not re.search(r"\bnan\b|\binf\b", text, flags=re.I)
        assert "n/a" not in text


def test_a_hostile_file_name_is_escaped(trained):
    prov = {**trained.provenance, "data": {**trained.provenance["data"], "file": HOSTILE}}
    bundle = trained.with_parts(provenance=prov, threshold_chosen_by="a | b <i>c</i> `d` *e*")
    c = card.model_card(bundle)
    html, md = c.html(), c.markdown()
    assert "<script" not in html and "<i>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;.csv" in html
    assert "<script" not in md.replace("\\<script", "")
    assert "\\<script\\>x\\</script\\>.csv" in md
    assert "a \\| b \\<i\\>c\\</i\\> \\`d\\` \\*e\\*" in md


def test_origin_is_said_plainly(trained):
    c = card.model_card(trained, origin="external model")
    for text in (c.markdown(), c.html()):
        assert "External model: not made on this installation" in text
        assert "provenance is unverified" in text
    assert "Shipped with bcdesktop" in card.model_card(trained, origin="shipped with bcdesktop").markdown()
    with pytest.raises(ValueError):
        card.model_card(trained, origin="downloaded")


def test_threshold_and_recalibration_are_described(trained):
    oof = trained.oof
    recal = fit_recalibration("platt", oof.probs, oof.labels)
    bundle = trained.with_parts(recalibration=recal).with_threshold(0.3, chosen_by="the highest threshold with "
                                                                               "sensitivity >= 98%")
    md = _plain(card.model_card(bundle).markdown())
    assert "**Threshold chosen by:** the highest threshold with sensitivity >= 98%" in md
    assert recal.describe() in md and "fitted on these same pairs" in md
    m = decision.evidence_metrics(recal.apply(oof.probs), oof.labels, 0.3)
    assert f"| Sensitivity | {format_rate(m.sensitivity)} | {m.sensitivity.k:,}/{m.sensitivity.n:,} |" in md
    after = calibration_summary(recal.apply(oof.probs), oof.labels)
    assert "| Calibration slope (1 ideal) | " in md and f" | {after.slope:.3f} |" in md
    assert "**Threshold chosen by:** the default 0.5, set at training" in _plain(card.model_card(trained).markdown())
    unknown = trained.with_parts(threshold_chosen_by=None)  # a file from before it was recorded
    assert "**Threshold chosen by:** not recorded" in _plain(card.model_card(unknown).markdown())


def test_the_shipped_model_names_its_source(tmp_path):
    bundle = load_default_model()
    md = _plain(card.model_card(bundle, origin="shipped with bcdesktop").markdown())
    assert "UCI Machine Learning Repository" in md and bundle.data_sha256 in md
    assert format_percent(bundle.oof.figures["sensitivity"]["mean"]) in md


# ---------------------------------------------------------------- write_card
def test_write_card_chooses_the_format_by_the_name(trained, tmp_path):
    md = card.write_card(tmp_path / "card.md", trained)
    html = card.write_card(tmp_path / "card.HTM", trained, origin="external model")
    forced = card.write_card(tmp_path / "card.txt", trained, fmt="html")
    assert md.read_text(encoding="utf-8").startswith("# Model card")
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert forced.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "External model" in html.read_text(encoding="utf-8")
    with pytest.raises(UserError, match=r"\.md"):
        card.write_card(tmp_path / "card.txt", trained)
    with pytest.raises(UserError, match="format"):
        card.write_card(tmp_path / "card.md", trained, fmt="pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.HTM", "card.md", "card.txt"]


def test_write_card_never_writes_over_its_inputs(trained, tmp_path):
    model = trained.source_path
    before = model.read_bytes()
    with pytest.raises(UserError, match="must not be replaced"):
        card.write_card(model, trained, fmt="md")
    assert model.read_bytes() == before
    data = tmp_path / "data.csv"
    data.write_text("keep\n")
    with pytest.raises(UserError, match="must not be replaced"):
        card.write_card(data, trained, fmt="md", inputs=[data])
    link = tmp_path / "link.md"
    link.symlink_to(data)
    with pytest.raises(UserError):
        card.write_card(link, trained, inputs=[data])
    assert data.read_text() == "keep\n"


def test_write_card_never_writes_a_shipped_file(trained):
    shipped = resources.bundled_data_path()
    before = shipped.read_bytes()
    with pytest.raises(UserError, match="shipped"):
        card.write_card(shipped, trained, fmt="md")
    beside = shipped.parent / "card-test.md"
    with pytest.raises(UserError, match="shipped"):
        card.write_card(beside, trained)
    assert shipped.read_bytes() == before and not beside.exists()


def test_write_card_refuses_folders_pipes_and_missing_folders(trained, tmp_path):
    folder = tmp_path / "cards.md"
    folder.mkdir()
    with pytest.raises(UserError, match="folder"):
        card.write_card(folder, trained)
    with pytest.raises(UserError, match="does not exist"):
        card.write_card(tmp_path / "missing" / "card.md", trained)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.md"
        os.mkfifo(fifo)
        with pytest.raises(UserError, match="FIFO"):
            card.write_card(fifo, trained)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cards.md", "pipe.md"][: 1 + hasattr(os, "mkfifo")]


def test_write_card_is_atomic(trained, tmp_path, monkeypatch):
    path = tmp_path / "card.md"
    path.write_text("old card\n")
    assert card.write_card(path, trained) == path
    new = path.read_text(encoding="utf-8")
    assert new.startswith("# Model card")
    path.write_text("old card\n")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(UserError, match="No space left"):
        card.write_card(path, trained)
    assert path.read_text() == "old card\n"
    assert [p.name for p in tmp_path.iterdir()] == ["card.md"]  # no temporary file left


def test_core_module_imports_no_gui():
    import subprocess
    import sys

    code = ("import sys, bcdesktop.card; "
            "bad = [m for m in ('tkinter', 'matplotlib', 'numpy') if m in sys.modules]; "
            "sys.exit(bool(bad))")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent).returncode == 0
