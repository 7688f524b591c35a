"""Plain baselines beside the network: scikit-learn's logistic regression and random forest.

:func:`compare` cross-validates the network (:func:`bcdesktop.evaluation.cross_validate`)
and each baseline (:func:`bcdesktop.evaluation.cross_validate_with`) on the same folds:
the same repeated stratified k-fold from the same ``seed``, identical feature vectors
kept in one fold unless ``grouped=False``. Each baseline gets the network's scaling, a
min-max :class:`~bcdesktop.model.Scaler` fitted on each fold's training rows only, so
the three models differ in the model alone. This is what Orange's Test and Score shows:
the network beside models that need no tuning.

The baselines, as ``bench/bench_accuracy.py`` has measured them since the defaults were
chosen:

- ``logistic_regression``: ``LogisticRegression(max_iter=1000)`` (L2, C = 1, lbfgs);
- ``random_forest``: ``RandomForestClassifier(n_estimators=200, n_jobs=1)``.

Seeds: both take ``random_state = seed``, the seed that chooses the folds (which is also
the network's seed on the command line and in the window unless set otherwise). Every
fold's forest grows from that one seed, as every fold's network starts from
``config.seed``; lbfgs draws no random numbers, so the logistic regression does not
depend on it. The same seed therefore gives the same figures, run after run.

scikit-learn is imported inside the functions that need it; no tkinter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

from . import evaluation
from . import metrics as M
from .errors import Cancelled
from .model import Scaler
from .training import TrainConfig

__all__ = ["BASELINES", "MODELS", "LABELS", "COMPARE_METRICS", "LR_MAX_ITER", "RF_TREES",
           "CompareProgress", "Comparison", "baseline_model", "baseline_fit_predict",
           "cross_validate_baselines", "compare"]

#: The baselines, in the order they run and are shown.
BASELINES: tuple[str, ...] = ("logistic_regression", "random_forest")
#: Every model of a comparison, the network first (the keys of ``compare`` in the JSON).
MODELS: tuple[str, ...] = ("network", *BASELINES)
#: What a person reads for each model.
LABELS: dict[str, str] = {"network": "Network", "logistic_regression": "Logistic regression",
                          "random_forest": "Random forest"}
#: The metrics a comparison reports for each model (each ``{mean, sd}`` over the fits).
COMPARE_METRICS: tuple[str, ...] = ("accuracy", "roc_auc", "brier", "sensitivity", "specificity")
LR_MAX_ITER = 1000  # lbfgs converges in a few dozen on these data; room to spare
RF_TREES = 200


def baseline_model(name: str, seed: int = 0):
    """A fresh, unfitted scikit-learn classifier for the baseline ``name`` (see the module
    docstring), with ``random_state=seed``."""
    if name == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=LR_MAX_ITER, random_state=seed)
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=RF_TREES, random_state=seed, n_jobs=1)
    raise ValueError(f"unknown baseline {name!r}; the baselines are {', '.join(BASELINES)}")


def baseline_fit_predict(name: str, seed: int = 0) -> Callable:
    """``fit_predict(X_train, y_train, X_test, cancel) -> probabilities (n_test,)`` for
    :func:`bcdesktop.evaluation.cross_validate_with`: a min-max scaler fitted on
    ``X_train`` only (as the network's), then :func:`baseline_model` on the scaled rows.
    A fit, once started, runs to its end; ``cross_validate_with`` checks ``cancel``
    between fits."""
    baseline_model(name, seed)  # an unknown name fails now, not inside the first fold

    def fit_predict(X_tr, y_tr, X_te, cancel=None):
        if cancel is not None and cancel.is_set():
            raise Cancelled("cross-validation cancelled")
        scaler = Scaler.fit(X_tr)
        model = baseline_model(name, seed).fit(scaler.transform(X_tr), y_tr)
        column = list(model.classes_).index(1)
        return model.predict_proba(scaler.transform(X_te))[:, column]
    return fit_predict


class CompareProgress(NamedTuple):
    """Reported after each fit of a comparison: ``done`` of ``total`` fits over every model,
    and which ``model`` (a name of :data:`MODELS`), ``repeat`` and ``fold`` the last one was."""

    done: int
    total: int
    repeat: int
    fold: int
    model: str


@dataclasses.dataclass
class Comparison:
    """Models cross-validated on the same folds.

    Attributes
    ----------
    results : dict of str -> evaluation.CVResult
        One per model, in :data:`MODELS` order (``"network"`` first).
    """

    results: dict

    @property
    def network(self):
        """The network's :class:`~bcdesktop.evaluation.CVResult`."""
        return self.results["network"]

    def to_dict(self) -> dict:
        """JSON-ready: ``{model: {metric: {"mean", "sd"}}}`` for :data:`COMPARE_METRICS`,
        rounded as :meth:`CVResult.to_dict` rounds them (null when undefined)."""
        out = {}
        for name, cv in self.results.items():
            d = cv.to_dict()
            out[name] = {metric: d[metric] for metric in COMPARE_METRICS}
        return out

    def __repr__(self) -> str:
        parts = "; ".join(f"{name} acc={cv.mean('accuracy'):.4f} auc={cv.mean('roc_auc'):.4f} "
                          f"brier={cv.mean('brier'):.4f}" for name, cv in self.results.items())
        return f"Comparison({parts})"


def _stage_progress(progress, model: str, start: int, fits: int, total: int):
    """A ``CVProgress`` receiver that reports :class:`CompareProgress` over every model."""
    if progress is None:
        return None

    def report(p) -> None:
        done = start + min(fits, round(p.done / max(1, p.total) * fits))
        progress(CompareProgress(done, total, p.repeat, p.fold, model))
    return report


def _settings(name: str, seed: int) -> dict:
    """What a baseline was, for its ``CVResult.settings``."""
    params = {"logistic_regression": {"max_iter": LR_MAX_ITER},
              "random_forest": {"n_estimators": RF_TREES}}[name]
    return {"model": type(baseline_model(name, seed)).__name__, **params, "random_state": seed,
            "scaling": "min-max, fitted on each fold's training rows"}


def cross_validate_baselines(X, y, *, folds: int = evaluation.DEFAULT_FOLDS,
                             repeats: int = evaluation.DEFAULT_REPEATS, seed: int = 0,
                             grouped: bool = True, threshold: float = M.DEFAULT_THRESHOLD,
                             names: tuple[str, ...] = BASELINES, progress=None, cancel=None) -> dict:
    """Cross-validate each baseline of ``names`` on the folds ``evaluation.cross_validate``
    uses for the same ``folds``, ``repeats``, ``seed`` and ``grouped``.

    Returns ``{name: CVResult}`` in the order of ``names``; each result's ``settings`` say
    what the model was. ``progress(CompareProgress)`` after each fit, counting the fits of
    every baseline; ``cancel`` (a ``threading.Event``) raises
    :class:`~bcdesktop.errors.Cancelled` between fits.
    """
    fits = folds * repeats
    total = fits * len(names)
    out = {}
    for k, name in enumerate(names):
        out[name] = evaluation.cross_validate_with(
            baseline_fit_predict(name, seed), X, y, folds=folds, repeats=repeats, seed=seed, grouped=grouped,
            threshold=threshold, settings=_settings(name, seed), cancel=cancel,
            progress=_stage_progress(progress, name, k * fits, fits, total))
    return out


def compare(X, y, config: TrainConfig, *, folds: int = evaluation.DEFAULT_FOLDS,
            repeats: int = evaluation.DEFAULT_REPEATS, seed: int | None = None, grouped: bool = True,
            threshold: float = M.DEFAULT_THRESHOLD, progress=None, cancel=None) -> Comparison:
    """The network trained with ``config`` beside the baselines, on the same folds.

    ``X``, ``y``, ``config``, ``folds``, ``repeats``, ``grouped`` and ``threshold`` are
    those of :func:`evaluation.cross_validate`.

    Parameters
    ----------
    seed : int, optional
        Chooses the folds and seeds the baselines; None takes ``config.seed``.
    progress : callable, optional
        ``progress(CompareProgress)``: the network's fits first, then each baseline's.
    cancel : threading.Event, optional
        Raises :class:`~bcdesktop.errors.Cancelled`.

    Returns
    -------
    Comparison
    """
    seed = config.seed if seed is None else seed
    fits = folds * repeats
    total = fits * len(MODELS)
    network = evaluation.cross_validate(X, y, config, folds=folds, repeats=repeats, seed=seed,
                                        grouped=grouped, threshold=threshold, cancel=cancel,
                                        progress=_stage_progress(progress, "network", 0, fits, total))

    def baseline_progress(p: CompareProgress) -> None:  # after the network's fits
        progress(p._replace(done=fits + p.done, total=total))

    baselines = cross_validate_baselines(X, y, folds=folds, repeats=repeats, seed=seed, grouped=grouped,
                                         threshold=threshold, cancel=cancel,
                                         progress=None if progress is None else baseline_progress)
    return Comparison({"network": network, **baselines})

