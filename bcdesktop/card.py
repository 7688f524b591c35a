"""The model card of a model file: what it is, what it is for, how well it does and
where it falls short, in Markdown or as one self-contained HTML page.

The sections are those of Mitchell et al. (2019), "Model Cards for Model Reporting"
(:data:`SECTION_TITLES`), filled with the TRIPOD+AI items that apply to a model of
the nine Wisconsin cytology scores: intended use and users, the data (source, file,
rows used and left out, outcome, predictors, sample size, class balance), the model and
its settings, internal validation, calibration, the threshold, limitations, software.

Every figure comes from the model file (:class:`~bcdesktop.persistence.ModelBundle`):
its cross-validation figures, its out-of-fold pairs, its validation split, its
settings and provenance. Nothing is recomputed from the bundled data; the bundled data
file is only hashed, to say whether the training file was that file. What a file does
not hold is said plainly in place of the figure.

:func:`model_card` builds one :class:`ModelCard` (a list of sections of blocks), which
:meth:`ModelCard.markdown` and :meth:`ModelCard.html` both render, so the two always
say the same. Every text taken from the file (a data file name, a setting, a version)
is escaped by the renderer: HTML with :func:`html.escape`, Markdown with backslashes,
so a hostile name shows as text in both. :func:`write_card` writes one atomically.

Only the standard library at import; NumPy and the metric modules when a card is made.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import re
import types
from collections.abc import Sequence
from pathlib import Path

from .errors import UserError

__all__ = ["ModelCard", "model_card", "write_card", "ORIGINS", "SECTION_TITLES", "FORMATS",
           "Code", "Para", "Note", "Facts", "Table", "Bullets"]

#: What a caller may say about where a model came from (or None: not known).
ORIGINS = ("made on this installation", "shipped with bcdesktop", "external model")
#: The card's sections, in order (Mitchell et al. 2019).
SECTION_TITLES = ("Model details", "Intended use", "Factors", "Metrics", "Evaluation data",
                  "Training data", "Quantitative analyses", "Ethical considerations",
                  "Caveats and recommendations")
#: The card's formats and the file name endings that choose them.
FORMATS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}



# ---------------------------------------------------------------- the structure
class Code(str):
    """Text shown as code (a command, an option): ``code`` in Markdown, <code> in HTML."""

    __slots__ = ()


#: A run of text: a string, or a tuple of strings and :class:`Code` parts.
Text = str | tuple

_NO_OOF = ("This model file holds no cross-validation figures: it was trained with ",
           Code("--no-calibrate"), " or by an older bcdesktop; run ", Code("bcdesktop evaluate"),
           " with its settings.")


@dataclasses.dataclass(frozen=True)
class Para:
    """A paragraph."""

    text: Text


@dataclasses.dataclass(frozen=True)
class Note:
    """A paragraph that says what the file does not hold, or a warning."""

    text: Text


@dataclasses.dataclass(frozen=True)
class Facts:
    """Labelled values, one a line: ``[(label, value), ...]``."""

    rows: tuple


@dataclasses.dataclass(frozen=True)
class Table:
    """A small table: a header row and rows of cells."""

    header: tuple
    rows: tuple
    caption: Text = ""


@dataclasses.dataclass(frozen=True)
class Bullets:
    """A list of short items."""

    items: tuple


@dataclasses.dataclass(frozen=True, eq=False)
class ModelCard:
    """A model card: a title, a subtitle and :data:`SECTION_TITLES` sections.

    Attributes
    ----------
    title, subtitle : str
    sections : list of (title, list of blocks)
        Blocks are :class:`Para`, :class:`Note`, :class:`Facts`, :class:`Table` and
        :class:`Bullets`; both renderings are made from them.
    model_id : str
    """

    title: str
    subtitle: str
    sections: list
    model_id: str

    def __repr__(self) -> str:
        return f"ModelCard(model {self.model_id}, {len(self.sections)} sections)"

    def markdown(self) -> str:
        """The card as Markdown: headings, short tables, every value from the file escaped."""
        out = [f"# {_md(self.title)}", "", f"*{_md(self.subtitle)}*", ""]
        for title, blocks in self.sections:
            out += [f"## {_md(title)}", ""]
            for block in blocks:
                out += _md_block(block) + [""]
        return "\n".join(out).rstrip("\n") + "\n"

    def html(self) -> str:
        """The card as one self-contained HTML page (inline CSS, nothing fetched), every
        text escaped with :func:`html.escape`; readable on screen and printable."""
        import html

        esc = html.escape
        body = [f"<h1>{esc(self.title)}</h1>", f'<p class="disclaimer">{esc(self.subtitle)}</p>']
        for title, blocks in self.sections:
            body.append(f'<section>\n<h2>{esc(title)}</h2>')
            body += [_html_block(block) for block in blocks]
            body.append("</section>")
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(self.title)}</title>\n<style>\n{_CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


_CSS = """\
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1a1a1a;
       background: #fff; margin: 0; }
main { max-width: 52rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #bbb; padding-bottom: .15rem; margin-top: 1.8rem; }
p.disclaimer { font-weight: 600; color: #7a1f1f; margin-top: 0; }
p.note { border-left: 4px solid #c77d00; background: #fff7e6; padding: .4rem .7rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
caption { text-align: left; font-style: italic; padding-bottom: .2rem; }
th, td { border: 1px solid #ccc; padding: .2rem .55rem; text-align: left; vertical-align: top; }
thead th { background: #f0f0f0; }
table.facts th { background: #f7f7f7; font-weight: 600; white-space: nowrap; }
td, th { overflow-wrap: anywhere; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .92em; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  section { break-inside: auto; }
  h2 { break-after: avoid; }
  table, p.note { break-inside: avoid; }
}
"""


# ---------------------------------------------------------------- rendering
def _parts(text: Text) -> tuple:
    return (text,) if isinstance(text, str) else tuple(text)


def _clean(text) -> str:
    from .schema import printable

    return printable(str(text))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~$])")  # $: GitHub reads $...$ as mathematics


def _md(text) -> str:
    """Plain text for Markdown: one line, and nothing Markdown or HTML would act on."""
    return _MD_SPECIAL.sub(r"\\\1", _clean(text))


def _md_code(text: str) -> str:
    text = _clean(text)
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_text(text: Text) -> str:
    return "".join(_md_code(p) if isinstance(p, Code) else _md(p) for p in _parts(text))


_LINE_START = re.compile(r"[#+=>-]|[0-9]+[.)]")


def _md_line(text: Text) -> str:
    """:func:`_md_text` for text that starts a line: a heading, list, quote or rule
    marker there is escaped too."""
    s = _md_text(text)
    m = _LINE_START.match(s)
    return s if m is None else s[:m.end() - 1] + "\\" + s[m.end() - 1:]


def _md_row(cells) -> str:
    return "| " + " | ".join(_md_text(c) for c in cells) + " |"


def _md_block(block) -> list[str]:
    if isinstance(block, Para):
        return [_md_line(block.text)]
    if isinstance(block, Note):
        return ["> **Note:** " + _md_text(block.text)]
    if isinstance(block, Bullets):
        return [f"- {_md_line(item)}" for item in block.items]
    if isinstance(block, Facts):
        return [f"- **{_md_text(label)}:** {_md_text(value)}" for label, value in block.rows]
    if isinstance(block, Table):
        lines = [f"*{_md_text(block.caption)}*", ""] if block.caption else []
        return lines + [_md_row(block.header), "|" + "|".join("---" for _ in block.header) + "|",
                        *(_md_row(row) for row in block.rows)]
    raise TypeError(f"not a card block: {block!r}")


def _html_text(text: Text) -> str:
    import html

    return "".join(f"<code>{html.escape(_clean(p))}</code>" if isinstance(p, Code)
                   else html.escape(_clean(p)) for p in _parts(text))


def _html_block(block) -> str:
    h = _html_text
    if isinstance(block, Para):
        return f"<p>{h(block.text)}</p>"
    if isinstance(block, Note):
        return f'<p class="note"><strong>Note:</strong> {h(block.text)}</p>'
    if isinstance(block, Bullets):
        return "<ul>\n" + "\n".join(f"<li>{h(item)}</li>" for item in block.items) + "\n</ul>"
    if isinstance(block, Facts):
        rows = "\n".join(f'<tr><th scope="row">{h(label)}</th><td>{h(value)}</td></tr>'
                         for label, value in block.rows)
        return f'<table class="facts">\n<tbody>\n{rows}\n</tbody>\n</table>'
    if isinstance(block, Table):
        caption = f"<caption>{h(block.caption)}</caption>\n" if block.caption else ""
        head = "".join(f'<th scope="col">{h(c)}</th>' for c in block.header)
        rows = "\n".join("<tr>" + "".join(f"<td>{h(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return f"<table>\n{caption}<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"
    raise TypeError(f"not a card block: {block!r}")


# ---------------------------------------------------------------- figures
def _finite(x) -> float | None:
    """``x`` as a float when it is a finite real number (not a bool), else None: a
    file's figures may be null, or anything a hand-edited file holds."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _count(x) -> int | None:
    """A whole number >= 0, or None."""
    if isinstance(x, bool):
        return None
    v = _finite(x)
    return int(v) if v is not None and v >= 0 and v == int(v) else None


def _dec(x, missing: str = "not recorded") -> str:
    v = _finite(x)
    return missing if v is None else f"{v:.3f}"


def _pct(x, missing: str = "not recorded") -> str:
    from .metrics import format_percent

    v = _finite(x)
    return missing if v is None else format_percent(v)


def _n(x) -> str:
    v = _count(x)
    return "not recorded" if v is None else f"{v:,}"


def _rate(value, ci, missing: str = "not defined") -> str:
    """``95.2% (91.0-97.5%)`` from a value and its [low, high], via ``format_rate``."""
    from .metrics import format_rate

    v = _finite(value)
    if v is None:
        return missing
    low = high = None
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        low, high = _finite(ci[0]), _finite(ci[1])
    if low is None or high is None:
        low = high = None
    return format_rate(types.SimpleNamespace(value=v, low=low, high=high))


def _threshold(t) -> str:
    v = _finite(t)
    return "not recorded" if v is None else f"{v:.6g}"


def _setting(value) -> str:
    """A setting's value as text: numbers as written, lists joined, anything else as text."""
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else "not recorded"
    if isinstance(value, (list, tuple)):
        return ", ".join(_setting(v) for v in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_setting(v)}" for k, v in value.items()) or "none"
    return str(value)[:300]


def _dict(x) -> dict:
    return x if isinstance(x, dict) else {}


def _text(x, missing: str = "not recorded") -> str:
    return missing if x is None or x == "" else str(x)[:300]


@functools.lru_cache(maxsize=1)
def _bundled_data_sha256() -> str | None:
    """SHA-256 of the data file shipped with the app (to say whether a model was trained
    on it), or None when it cannot be read."""
    import hashlib

    from .resources import bundled_data_path

    try:
        return hashlib.sha256(bundled_data_path().read_bytes()).hexdigest()
    except OSError:
        return None


# ---------------------------------------------------------------- sections
def _origin_text(origin: str | None) -> str:
    if origin == "made on this installation":
        return "Made on this installation: trained here with bcdesktop."
    if origin == "shipped with bcdesktop":
        return ("Shipped with bcdesktop: the default model, trained by its maintainers from the "
                "bundled data set with the default settings.")
    if origin == "external model":
        return ("External model: not made on this installation. Where, how and from what it was "
                "made cannot be checked here, so everything this card reports about its making "
                "(data, settings, software) is the file's own unverified account. A file that "
                "loads is not thereby a file bcdesktop wrote: compare the model id with the one "
                "you were given.")
    return "Not known: nobody said where this model file came from."


_SETTING_LABELS = (
    ("hidden", "Hidden layer sizes"), ("init", "Weight initialisation"), ("optimizer", "Optimizer"),
    ("lr", "Learning rate"), ("iterations", "Iterations (full-batch updates)"),
    ("schedule", "Learning-rate schedule"), ("l2", "L2 weight decay"),
    ("patience", "Early-stopping patience (0: off)"), ("n_early_stopping", "Rows held back for early stopping"),
    ("dropout", "Dropout"), ("restart_period", "SGDR first cycle"), ("restart_mult", "SGDR cycle multiplier"),
    ("inverse_decay", "Inverse-time decay"), ("seed", "Seed (initialisation and split)"),
    ("log_every", "Loss logged every"), ("split", "Validation split method"),
    ("val_fraction", "Validation fraction (stratified split)"), ("train_rows", "Training rows (first-rows split)"),
    ("n_train", "Training rows used"), ("n_validation", "Validation rows"),
)


#: The settings left out of a file at their defaults that matter, by schedule.
_RELEVANT = {"sgdr": ("dropout", "restart_period", "restart_mult"),
             "inverse_time": ("dropout", "inverse_decay")}


def _settings_table(bundle) -> Table:
    from .training import LATER_DEFAULTS

    settings = _dict(bundle.settings)
    rows = []
    for key, label in _SETTING_LABELS:
        if key in settings:
            rows.append((label, _setting(settings[key])))
        elif key in LATER_DEFAULTS and settings and key in _RELEVANT.get(settings.get("schedule"), ("dropout",)):
            rows.append((label, f"{_setting(LATER_DEFAULTS[key])} (default)"))
    rows.insert(1, ("Hidden activation", str(bundle.network.hidden_activation)))
    known = {key for key, _ in _SETTING_LABELS} | {"activation"}
    rows += [(str(key)[:100], _setting(v)) for key, v in settings.items() if key not in known]
    return Table(("Setting", "Value"), tuple(rows), "Training settings, as recorded in the model file")


def _model_details(bundle, origin) -> list:
    from .persistence import n_parameters

    net = bundle.network
    metrics = _dict(bundle.metrics)
    facts = [
        ("Model id", bundle.model_id),
        ("Model file SHA-256", bundle.file_sha256),
        ("Created (UTC)", _text(bundle.created_utc)),
        ("Made by", f"bcdesktop {_text(bundle.app_version)}"),
        ("Origin", _origin_text(origin)),
        ("Model type", f"fully connected neural network (multilayer perceptron), layers "
                       f"{'-'.join(str(s) for s in net.layer_sizes)}: {len(net.hidden)} hidden "
                       f"layer{'s' if len(net.hidden) != 1 else ''} of {net.hidden_activation} units "
                       f"and one sigmoid output unit giving the probability of malignancy"),
        ("Weights and biases", f"{n_parameters(net.hidden, net.n_inputs):,}"),
        ("Input scaling", "min-max scaling of each score, fitted on the training rows"),
        ("Training run", f"{_text(metrics.get('stopped'))}; {_setting(_count(metrics.get('iterations_run')))} "
                         f"iterations run, weights of iteration {_setting(_count(metrics.get('best_iteration')))} kept"),
        ("Decision threshold", f"{_threshold(bundle.threshold)}: a case with a probability at or "
                               "above it is called malignant"),
        ("Threshold chosen by", bundle.threshold_chosen_by or "not recorded (the threshold given at training)"),
        ("Recalibration", bundle.recalibration.describe() if bundle.recalibration is not None
         else "no recalibration: the network's own probabilities are given"),
        ("Model file format", str(bundle.format_version)),
    ]
    blocks: list = [Facts(tuple(facts))]
    if origin == "external model":
        blocks.append(Note("This is an external model: it was not made on this installation and "
                           "its provenance is unverified."))
    blocks.append(_settings_table(bundle))
    software = _dict(_dict(bundle.provenance).get("software"))
    if software:
        blocks.append(Table(("Software", "Version"), (
            ("bcdesktop (that made the model)", _text(software.get("bcdesktop"))),
            ("Python", _text(software.get("python"))),
            ("NumPy", _text(software.get("numpy"))),
            ("Platform", _text(software.get("platform")))), "Software the model was made with"))
    else:
        blocks.append(Note(f"This model file records no software versions beyond bcdesktop "
                           f"{_text(bundle.app_version)} (it was made before bcdesktop recorded "
                           "provenance)."))
    return blocks


def _intended_use() -> list:
    from . import DISCLAIMER

    return [Para(DISCLAIMER), Facts((
        ("Primary use", "research and education: how the nine cytology scores of a fine-needle "
                        "aspirate relate to malignancy in a classic data set, and how a model is "
                        "trained, validated, calibrated and given a threshold"),
        ("Primary users", "clinicians, researchers and students, for learning and research"),
        ("Out of scope", "diagnosis, screening or treatment decisions for any patient; use as the "
                         "basis of any clinical decision; scores graded another way or from "
                         "another kind of sample"),
    ))]


def _factors() -> list:
    from .schema import FEATURE_DESCRIPTIONS, FEATURES

    rows = tuple((str(i), name, FEATURE_DESCRIPTIONS.get(name, "")) for i, name in enumerate(FEATURES, 1))
    return [
        Para("Predictors: nine cytology scores of a fine-needle aspirate of a breast mass, each a "
             "whole number from 1 to 10 graded by an observer. Outcome: the Class of the sample, "
             "benign (coded 2) or malignant (coded 4)."),
        Table(("#", "Score", "1 and 10 mean"), rows, "The predictors, in the order the model takes them"),
        Bullets((
            "The data hold no patient characteristics (age, sex, ethnicity), so how the model "
            "does in groups of patients cannot be assessed.",
            "Who graded the scores, how, with what equipment and when are not recorded: the "
            "observer and the laboratory are factors the evaluation cannot separate.",
            "Scores graded by other observers, laboratories or protocols may differ in ways the "
            "model has never seen.",
        )),
    ]


def _metrics_section() -> list:
    return [Bullets((
        "Sensitivity: the share of malignant cases called malignant. A missed malignancy (false "
        "negative) is the costlier error here, so it is reported first.",
        "Specificity: the share of benign cases called benign.",
        "Accuracy; PPV and NPV (the share of cases called malignant that are, and of those called "
        "benign that are), which depend on the prevalence of these data.",
        "ROC AUC: how well the probabilities rank malignant above benign cases, at any threshold.",
        "Brier score (mean squared error of the probabilities), calibration intercept (0 ideal) "
        "and slope (1 ideal), and expected calibration error (ECE) over 10 bins.",
        "Rates at a threshold carry 95% Wilson score intervals. A cross-validation mean carries "
        "the standard deviation across its fits: the spread of one fold's estimate, not an interval.",
    ))]


def _evaluation_data(bundle) -> list:
    settings = _dict(bundle.settings)
    oof = bundle.oof
    blocks: list = []
    if oof is not None:
        fig = _dict(oof.figures)
        groups = _count(fig.get("n_groups"))
        grouping = (f"rows with identical scores kept in one fold ({groups:,} distinct score patterns "
                    f"among {oof.n:,} rows)" if oof.grouped and groups is not None
                    else "rows with identical scores kept in one fold" if oof.grouped
                    else "rows with identical scores not kept together (a row may be tested "
                         "against its own copy: optimistic)")
        blocks += [Para("Internal validation: repeated, duplicate-aware cross-validation of this "
                        "model's settings over every usable row of its training data."),
                   Facts((("Design", f"{oof.folds}-fold cross-validation repeated {oof.repeats} "
                                     f"time{'s' if oof.repeats != 1 else ''}, folds from seed {oof.seed}"),
                          ("Duplicates", grouping),
                          ("Evidence", oof.describe()),
                          ("Rows", f"{oof.n:,}")))]
    else:
        blocks.append(Note(_NO_OOF))
    n_val = _count(settings.get("n_validation"))
    if _dict(_dict(bundle.metrics).get("validation")):
        how = _text(settings.get("split"))
        if how == "first":
            how = f"first {_setting(settings.get('train_rows'))} usable rows train, the rest validate"
        elif how == "stratified":
            how = (f"stratified by class, fraction {_setting(settings.get('val_fraction'))}, seed "
                   f"{_setting(settings.get('seed'))}")
        blocks.append(Para(f"A single validation split: {_n(n_val)} rows held out of training "
                           f"({how}); the network was never trained on them."))
    else:
        blocks.append(Note("This model file holds no validation-split figures."))
    blocks.append(Para("External validation: none. The model has not been tested on data from "
                       "another centre, population or time."))
    return blocks


def _class_balance(bundle) -> str:
    oof = bundle.oof
    if oof is not None:
        k = int(oof.labels.sum())
        return (f"{oof.n - k:,} benign, {k:,} malignant ({_pct(k / oof.n)} malignant) of the "
                f"{oof.n:,} rows cross-validated")
    m = _dict(bundle.metrics)
    parts, total_m, total = [], 0, 0
    for part in ("train", "validation"):
        d = _dict(m.get(part))
        c = [_count(d.get(key)) for key in ("tp", "fn", "tn", "fp")]
        if None in c:
            continue
        mal, n = c[0] + c[1], sum(c)
        parts.append(f"{part}: {n - mal:,} benign, {mal:,} malignant")
        total_m, total = total_m + mal, total + n
    if not parts or not total:
        return "not recorded"
    return "; ".join(parts) + f" ({_pct(total_m / total)} malignant)"


def _training_data(bundle) -> list:
    settings = _dict(bundle.settings)
    prov = _dict(bundle.provenance)
    data = _dict(prov.get("data"))
    sha = bundle.data_sha256
    bundled = _bundled_data_sha256()
    if sha is not None and bundled is not None and sha == bundled:
        source = ("the Wisconsin Breast Cancer (Original) data set of Dr. William H. Wolberg, "
                  "University of Wisconsin Hospitals, Madison, from the UCI Machine Learning "
                  "Repository (the copy bundled with bcdesktop; see data/README.md). Licence "
                  "CC BY 4.0; cite Mangasarian and Wolberg, SIAM News 23(5), 1990.")
    elif sha is not None:
        source = ("a file other than the bundled Wisconsin Breast Cancer (Original) data set (its "
                  "SHA-256 differs); its source is not recorded in the model file")
    else:
        source = "not recorded"
    facts = [("Source", source),
             ("Training file", _text(data.get("file"))),
             ("Training file SHA-256", _text(sha))]
    if data:
        facts += [("Rows read", _n(data.get("rows_read"))), ("Rows used", _n(data.get("rows_used"))),
                  ("Rows left out", _n(data.get("rows_rejected")))]
    n_tr, n_va = _count(settings.get("n_train")), _count(settings.get("n_validation"))
    if n_tr is not None and n_va is not None:
        facts.append(("Sample size", f"{n_tr + n_va:,} rows: {n_tr:,} to train the network, "
                                     f"{n_va:,} for its validation split"
                                     + (f"; all {bundle.oof.n:,} in the cross-validation"
                                        if bundle.oof is not None else "")))
    facts.append(("Class balance", _class_balance(bundle)))
    blocks: list = [Facts(tuple(facts))]
    if not data:
        blocks.append(Note("This model file records no training file name or row counts (it was "
                           "made before bcdesktop recorded provenance, or from data in memory)."))
    by_column = _dict(data.get("rejected_by_column"))
    if by_column:
        blocks.append(Table(("First bad column", "Rows left out"),
                            tuple((str(k)[:100], _n(v)) for k, v in by_column.items()),
                            "Rows left out, by their first bad column"))
    blocks.append(Para(
        "Missing data: no value is imputed. A row with a missing score (such as '?' or an empty "
        "cell), a score that is not a whole number from 1 to 10, or a missing or unknown class is "
        "left out, and each row left out is reported with its line number and the reason; "
        "completely blank lines are skipped. A file that writes the class both ways (0/1 and 2/4) "
        "has the rows written the less common way left out."))
    return blocks


def _cv_table(oof) -> list:
    fig = _dict(oof.figures)
    rows = []
    for key, label, fmt in (("accuracy", "Accuracy", _pct), ("sensitivity", "Sensitivity", _pct),
                            ("specificity", "Specificity", _pct), ("roc_auc", "ROC AUC", _dec),
                            ("brier", "Brier score", _dec)):
        d = _dict(fig.get(key))
        rows.append((label, fmt(d.get("mean")), fmt(d.get("sd"), "not defined")))
    at = _threshold(fig.get("threshold"))
    return [Table(("Figure", "Mean", "SD across fits"), tuple(rows),
                  f"Cross-validation ({oof.folds}-fold x {oof.repeats}): mean and SD over the "
                  f"{oof.folds * oof.repeats} fits; rates at threshold {at}")]


def _pooled(bundle) -> list:
    from .decision import evidence_metrics
    from .outoffold import evidence_of

    ev = evidence_of(bundle, "out-of-fold")
    m = evidence_metrics(ev.probs, ev.labels, bundle.threshold)
    rows = tuple((label, _rate(r.value, (r.low, r.high)), f"{r.k:,}/{r.n:,}")
                 for label, r in (("Sensitivity", m.sensitivity), ("Specificity", m.specificity),
                                  ("Accuracy", m.accuracy), ("PPV (in these data)", m.ppv),
                                  ("NPV (in these data)", m.npv)))
    text = (f"Pooled out-of-fold calls at the model's threshold {_threshold(bundle.threshold)}: "
            f"{ev.description}. Counts are over every repeat; each 95% Wilson interval is taken "
            f"at the {ev.n:,} rows, as the repeats re-use the same cases.")
    blocks: list = [Table(("Figure", "Value (95% CI)", "Count"), rows, text)]
    if bundle.threshold_chosen_by:
        blocks.append(Note("If the threshold was chosen on this same evidence, the figures at it "
                           "flatter it."))
    return blocks


def _calibration(bundle) -> list:
    from .calibrate import before_after, calibration_summary

    oof = bundle.oof
    rows = [("Calibration intercept (0 ideal)", "intercept"), ("Calibration slope (1 ideal)", "slope"),
            ("Brier score", "brier"), ("Expected calibration error", "ece")]
    caption = (f"Calibration of the {oof.n:,} rows' out-of-fold probabilities (all "
               f"{oof.n * oof.repeats:,} pairs pooled)")
    if bundle.recalibration is None:
        s = calibration_summary(oof.probs, oof.labels)
        return [Table(("Figure", "Network"), tuple((label, _dec(getattr(s, key), "not defined"))
                                                   for label, key in rows), caption)]
    before, after = before_after(oof.probs, oof.labels, bundle.recalibration)
    return [Table(("Figure", "Network", "After recalibration"),
                  tuple((label, _dec(getattr(before, key), "not defined"),
                         _dec(getattr(after, key), "not defined")) for label, key in rows), caption),
            Note(f"The recalibration ({bundle.recalibration.describe()}) was fitted on these same "
                 "pairs, so the figures after it flatter it.")]


def _split_table(d: dict, title: str) -> Table:
    rows = (("Sensitivity", _rate(d.get("sensitivity"), d.get("sensitivity_ci"))),
            ("Specificity", _rate(d.get("specificity"), d.get("specificity_ci"))),
            ("Accuracy", _rate(d.get("accuracy"), d.get("accuracy_ci"))),
            ("PPV (in these data)", _rate(d.get("ppv"), d.get("ppv_ci"))),
            ("NPV (in these data)", _rate(d.get("npv"), d.get("npv_ci"))),
            ("ROC AUC", _dec(d.get("roc_auc"), "not defined")),
            ("Brier score", _dec(d.get("brier"), "not defined")))
    return Table(("Figure", "Value (95% CI)"), rows,
                 f"{title}: {_n(d.get('n'))} rows, at threshold {_threshold(d.get('threshold'))}")


def _quantitative(bundle) -> list:
    blocks: list = []
    if bundle.oof is not None:
        blocks += _cv_table(bundle.oof) + _pooled(bundle) + _calibration(bundle)
    else:
        blocks += [Note(_NO_OOF), Note("Without out-of-fold pairs the card has no pooled calls at "
                                       "the threshold and no calibration figures.")]
    metrics = _dict(bundle.metrics)
    val = _dict(metrics.get("validation"))
    if val:
        blocks.append(_split_table(val, "The single validation split (one split, not cross-validated)"))
    else:
        blocks.append(Note("This model file holds no validation-split figures."))
    train = _dict(metrics.get("train"))
    if train:
        blocks.append(_split_table(train, "The training rows themselves (apparent performance: "
                                          "optimistic)"))
    return blocks


def _ethics() -> list:
    return [Bullets((
        "Not for diagnosis: a benign call can be wrong, and a missed malignancy may delay "
        "treatment. Any use with patients needs validation and approval this model does not have.",
        "The model file holds the nine scores of its training rows (out-of-fold evidence and "
        "training patterns) but no sample ids, names or dates.",
        "The data hold no patient characteristics, so fairness across groups of patients cannot "
        "be examined.",
    ))]


def _caveats(bundle) -> list:
    items = [
        "Small, single-centre data collected in the early 1990s at one hospital; today's "
        "patients, referral patterns and laboratory practice differ.",
        "Many rows repeat another row's nine scores; figures from evaluations that let a row be "
        "tested against its own copy are optimistic.",
        "No external validation: every figure here comes from the training data themselves.",
        "The scores are graded by an observer: another observer may grade the same sample "
        "differently, and the model cannot tell.",
        "PPV and NPV depend on how common malignancy is; they hold at these data's prevalence only.",
        "Cross-validation judges the settings, not this one network; the validation split is one "
        "split of a few rows, and its figures vary from split to split.",
    ]
    if bundle.oof is None:
        items.append("This model file holds no cross-validation figures, so its only held-out "
                     "evidence is one validation split.")
    return [Bullets(tuple(items)), Para((
        "Recommendations: validate on local data before any use; choose the threshold on your own "
        "evidence (", Code("bcdesktop threshold"), "); check that the model id matches the one you "
        "were given.",))]


def model_card(bundle, *, origin: str | None = None) -> ModelCard:
    """The model card of ``bundle`` (a :class:`~bcdesktop.persistence.ModelBundle`).

    Parameters
    ----------
    bundle : ModelBundle
    origin : {"made on this installation", "shipped with bcdesktop", "external model"} or None
        Where the caller knows the model came from; None when nobody knows.

    Raises
    ------
    ValueError
        For an ``origin`` not in :data:`ORIGINS`.
    """
    if origin is not None and origin not in ORIGINS:
        raise ValueError(f"origin must be one of {ORIGINS} or None, got {origin!r}")
    sections = [
        ("Model details", _model_details(bundle, origin)),
        ("Intended use", _intended_use()),
        ("Factors", _factors()),
        ("Metrics", _metrics_section()),
        ("Evaluation data", _evaluation_data(bundle)),
        ("Training data", _training_data(bundle)),
        ("Quantitative analyses", _quantitative(bundle)),
        ("Ethical considerations", _ethics()),
        ("Caveats and recommendations", _caveats(bundle)),
    ]
    assert tuple(t for t, _ in sections) == SECTION_TITLES
    from . import DISCLAIMER

    return ModelCard(f"Model card: bcdesktop model {bundle.model_id}", DISCLAIMER, sections, bundle.model_id)


# ---------------------------------------------------------------- writing
def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("md", "html"):
            raise UserError(f"Unknown model card format {fmt!r}; use 'md' or 'html'.")
        return fmt
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise UserError(f"Cannot tell the model card's format from the name {path.name}: give it a "
                        "name ending in .md, .markdown, .html or .htm.")
    return found


def write_card(path, bundle, *, origin: str | None = None, fmt: str | None = None,
               inputs: Sequence = ()) -> Path:
    """Write the model card of ``bundle`` to ``path`` atomically; returns the path.

    Parameters
    ----------
    fmt : {"md", "html"}, optional
        Default: from the name's ending (.md, .markdown, .html, .htm).
    inputs : sequence of paths
        Files that must never be written over (the data in use); the model's own file
        (:attr:`~bcdesktop.persistence.ModelBundle.source_path`) is always one.

    Raises
    ------
    UserError
        An unknown format or ending; ``path`` is a file shipped with the app, the model
        file, one of ``inputs``, a folder or anything but a regular file; its folder is
        missing; writing failed. Nothing is then written.
    """
    from . import resources
    from .schema import printable

    path = Path(path)
    kind = _format_of(path, fmt)
    shown = printable(str(path))
    if resources.is_bundled_file(path):
        raise UserError(f"{shown} is among the files shipped with bcdesktop, which it never writes "
                        "over or beside. Choose another name and folder for the model card.")
    protect = [Path(p) for p in (getattr(bundle, "source_path", None), *inputs) if p is not None]
    if not path.parent.is_dir():
        raise UserError(f"Cannot write the model card {shown}: the folder {printable(str(path.parent))} "
                        "does not exist. Create it or choose another one.")
    card = model_card(bundle, origin=origin)
    data = (card.markdown() if kind == "md" else card.html()).encode("utf-8")
    try:
        resources.atomic_write_bytes(path, data, protect=protect)
    except OSError as exc:
        raise UserError(f"Could not write the model card {shown}: {exc.strerror or exc}. "
                        "Choose another folder.") from None
    return path
