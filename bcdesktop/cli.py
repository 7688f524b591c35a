"""Command line: ``bcdesktop [gui] | train | evaluate | predict | score``.

Every command is a thin layer over the core; heavy libraries are imported inside the
command that needs them so that ``bcdesktop --version`` and ``predict`` stay quick.
Errors a user can fix print one line on stderr and exit with status 2; a traceback is
printed only with ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from bcdesktop import DISCLAIMER, __version__
from bcdesktop.cliutil import (  # noqa: F401 - shared with the commands in their own modules
    _ensure_streams,
    _float,
    _hidden,
    _json_default,
    _load_data,
    _load_model,
    _out,
    _positive,
    _print_json,
    _printable,
    _Progress,
    _silence_stdout,
    _threshold,
    _whole,
)
from bcdesktop.errors import Cancelled, UserError

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
EXIT_INTERRUPTED = 130
DEFAULT_MODEL_OUT = "bcdesktop-model.npz"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line, the house style for errors."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse's signature
        raise UserError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _rates_summary(metrics) -> dict:
    """The contract's per-split summary: accuracy, sensitivity, specificity, n (null for
    an undefined rate, as JSON has no NaN)."""
    d = metrics.to_dict()
    return {key: d[key] for key in ("accuracy", "sensitivity", "specificity", "n")}


def _layout_summary(layout) -> dict:
    """How the data file was read, for the JSON output: the layout assumed in words and
    which file column was matched to which feature."""
    if layout is None:
        return {}
    return {"layout": layout.assumed or layout.describe(),
            "columns": [[column, role] for column, role in layout.column_matching()]}


def _layout_lines(layout) -> list[str]:
    """The same for a person: the layout assumed, and the columns whose names are not
    already the feature they were matched to."""
    if layout is None:
        return []
    lines = [f"read as: {_printable(layout.assumed or layout.describe())}"]
    renamed = [f"{column} = {role}" for column, role in layout.column_matching()
               if column != role and not column.startswith("column ")]
    if renamed:
        lines.append("columns: " + _printable("; ".join(renamed)))
    return lines


# ---------------------------------------------------------------- commands
def cmd_gui(args) -> int:
    try:
        from bcdesktop.gui.app import run
    except ImportError as exc:  # tkinter missing from this Python
        raise UserError(f"The window cannot open: {exc}. Install Tk for Python "
                        "(e.g. 'apt-get install python3-tk') or use the commands "
                        "train, evaluate, predict and score.") from None
    return int(run(data=args.data, model=args.model, self_test=args.self_test,
                   ready_file=args.ready_file, no_audit=getattr(args, "no_audit", False)) or 0)


def _check_model_out(out: Path, data_path: str | None, replace_shipped: bool = False) -> None:
    """Before training: refuse to replace anything but an earlier model file (never a
    user's input), and fail now rather than after training when ``out`` cannot be saved."""
    from bcdesktop import persistence

    try:
        same = data_path is not None and os.path.samefile(out, data_path)
    except OSError:  # either is missing: load_csv says so about the data
        same = False
    if same:
        raise UserError(f"--out {out} is the training data file; choose another file name.")
    persistence.check_model_path(out, replace_shipped=replace_shipped)
    if out.exists():
        try:
            persistence.load_model(out)
        except UserError:
            raise UserError(f"--out {out} exists and is not a bcdesktop model; refusing to "
                            "overwrite it. Choose another file name.") from None


def _train_config(args):
    from bcdesktop.training import TrainConfig

    values = {
        "hidden": args.hidden, "lr": args.lr, "iterations": args.iterations,
        "optimizer": args.optimizer, "init": args.init, "seed": args.seed,
        "log_every": getattr(args, "log_every", None), "schedule": args.schedule, "l2": args.l2,
        "patience": args.patience, "activation": args.activation, "dropout": args.dropout,
        "restart_period": args.restart_period, "restart_mult": args.restart_mult,
        "inverse_decay": args.inverse_decay,
    }
    # only what was given: TrainConfig fills in the rest, some defaults depending on
    # others (the L2 default follows the optimizer)
    return TrainConfig.from_dict({k: v for k, v in values.items() if v is not None})


def cmd_train(args) -> int:
    from bcdesktop import evaluation
    from bcdesktop.metrics import finite_or_none

    config = _train_config(args)
    out = Path(args.out)
    _check_model_out(out, args.data, args.replace_shipped_model)
    dataset = _load_data(args.data)

    bar = _Progress(config.iterations, "training", enabled=not args.json)

    def progress(p) -> None:
        bar.update(p.iteration, f"loss {p.train_loss:.6f}")
        if not args.json and p.iteration % config.log_every == 0 and p.iteration < config.iterations:
            val = "" if p.val_loss is None else f" validation loss {p.val_loss:.6f}"
            line = f"iteration {p.iteration:>7d}  training loss {p.train_loss:.6f}{val}"
            if bar.enabled:
                sys.stderr.write("\r\033[K" + line + "\n")
            else:
                _out(line)

    outcome = evaluation.fit_model(
        dataset, config, split=args.split, val_fraction=args.val_fraction,
        train_rows=args.train_rows, threshold=args.threshold, progress=progress)
    bar.update(config.iterations, force=True)
    bar.close()
    if outcome.failure:
        raise UserError(f"{outcome.failure} No model file was written.")
    bundle, pairs, no_pairs = outcome.bundle, None, "--no-calibrate"
    if not args.no_calibrate:
        try:
            bundle, pairs = _calibrate(bundle, dataset, config, args.json)
        except UserError as exc:  # e.g. too few distinct rows for 10 folds: the model stands
            no_pairs = str(exc)
    from bcdesktop import persistence
    from bcdesktop.metrics import DEFAULT_THRESHOLD

    bundle = bundle.with_threshold(bundle.threshold, (  # the model card and the report say so
        f"given at training (train --threshold {bundle.threshold:g})" if args.threshold != DEFAULT_THRESHOLD
        else f"the default {bundle.threshold:g}, set at training"))
    persistence.save_model(bundle, out, replace_shipped=args.replace_shipped_model)
    from bcdesktop import cli_audit

    log = cli_audit.audit_log(args)
    cli_audit.remember(log, bundle, "trained with the command line")
    cli_audit.record(log, "model", model=bundle,
                     inputs={"action": "trained", "path": str(out), "data": str(dataset.path),
                             "data_sha256": dataset.sha256, "settings": bundle.settings},
                     output={"origin": "made on this installation", "threshold": bundle.threshold})
    result = outcome.result
    curve = [[int(it), float(tr), finite_or_none(va)]
             for it, tr, va in result.loss_curve if it % config.log_every == 0 and it < result.iterations_run]
    summary = {
        "loss_curve": curve,
        "train": _rates_summary(outcome.train_metrics),
        "validation": _rates_summary(outcome.val_metrics),
        "model": str(out),
        "model_id": bundle.model_id,
        "threshold": bundle.threshold,
        "iterations_run": int(result.iterations_run),
        "best_iteration": int(result.best_iteration),
        "stopped": result.stopped,
        "seconds": round(float(result.seconds), 3),
        "settings": bundle.settings,
        "data": {"path": str(dataset.path), "rows_read": dataset.n_read,
                 "usable": dataset.n_usable, "rejected": dataset.n_rejected,
                 "sha256": dataset.sha256, **_layout_summary(getattr(dataset, "layout", None))},
        "calibration_pairs": pairs,
    }
    if pairs is None:
        summary["calibration_problem"] = no_pairs
    if args.json:
        _print_json(summary)
        return 0
    _out(f"data: {_printable(str(dataset.path))}: {dataset.n_read} rows read, {dataset.n_usable} usable, "
          f"{dataset.n_rejected} rejected")
    for line in _layout_lines(getattr(dataset, "layout", None)):
        _out(f"  {line}")
    _out(f"stopped: {result.stopped} after {result.iterations_run} iterations "
          f"({result.seconds:.2f} s); best iteration {result.best_iteration}")
    for name, m in (("training", outcome.train_metrics), ("validation", outcome.val_metrics)):
        _out(_format_metrics(name, m))
    if pairs is None:
        _out(f"no calibration pairs ({_printable(no_pairs)}): the model gives no interval")
    else:
        _out(f"calibration pairs: {bundle.oof.describe()}, in {pairs['seconds']:.1f} s")
    _out(f"model saved to {_printable(str(out))} (id {bundle.model_id}, threshold {bundle.threshold:g})")
    return 0


def _calibrate(bundle, dataset, config, quiet: bool, label: str = "calibrating"):
    """The bundle with the out-of-fold evidence of ``config`` on ``dataset`` (the
    calibration pairs of its interval and the Threshold tab's evidence), and a JSON
    summary; a progress bar named ``label`` on a terminal."""
    from bcdesktop import evaluation, outoffold

    total = evaluation.DEFAULT_FOLDS * evaluation.DEFAULT_REPEATS
    bar = _Progress(total, label, enabled=not quiet)

    def progress(p) -> None:
        bar.update(p.done, f"cross-validation fit {p.done}/{total}")

    started = time.perf_counter()
    oof = outoffold.compute(dataset.X, dataset.y, config, progress=progress,
                            data_sha256=getattr(dataset, "sha256", None))
    bar.update(total, force=True)
    bar.close()
    seconds = time.perf_counter() - started
    return bundle.with_parts(oof=oof), {"evidence": "out-of-fold", "n": oof.n,
                                        "repeats": oof.repeats, "folds": oof.folds,
                                        "seed": oof.seed, "seconds": round(seconds, 3)}


def _format_rate(rate) -> str:
    if rate.value is None or rate.value != rate.value:
        return "  n/a"
    return f"{rate.value:.3f} (95% CI {rate.low:.3f}-{rate.high:.3f})"


def _format_metrics(name: str, m) -> str:
    return "\n".join([
        f"{name} (n={m.n}):",
        f"  accuracy    {_format_rate(m.accuracy)}",
        f"  sensitivity {_format_rate(m.sensitivity)}",
        f"  specificity {_format_rate(m.specificity)}",
        f"  PPV         {_format_rate(m.ppv)}",
        f"  NPV         {_format_rate(m.npv)}",
        f"  confusion   TP {m.tp}  FN {m.fn}  FP {m.fp}  TN {m.tn}",
    ])


def cmd_evaluate(args) -> int:
    from bcdesktop import evaluation
    from bcdesktop.training import TrainConfig

    config = _train_config(args)  # settings checked before the data are read
    dataset = _load_data(args.data)
    if dataset.y is None:
        raise UserError(f"{dataset.path} has no class column; cross-validation needs labels.")
    total = args.folds * args.repeats
    options = dict(folds=args.folds, repeats=args.repeats, seed=config.seed, grouped=not args.no_group)
    if args.compare:
        from bcdesktop import baselines

        total *= len(baselines.MODELS)
        bar = _Progress(total, "cross-validating", enabled=not args.json)

        def progress(p) -> None:
            bar.update(p.done, f"fit {p.done}/{total} ({p.model})")

        comparison = baselines.compare(dataset.X, dataset.y, config, progress=progress, **options)
        cv = comparison.network
    else:
        bar = _Progress(total, "cross-validating", enabled=not args.json)

        def progress(p) -> None:
            bar.update(p.done, f"fold {p.done}/{total}")

        cv = evaluation.cross_validate(dataset.X, dataset.y, config, progress=progress, **options)
        comparison = None
    bar.close()
    result = cv.to_dict()  # its "seconds": the cross-validation's own wall time
    if comparison is not None:
        result["compare"] = comparison.to_dict()
    from bcdesktop import calibrate, decision

    # both on every repeat's out-of-fold predictions (all rows, each repeat)
    result["decision_curve"] = decision.decision_curve_json(cv.oof_all, cv.labels)
    calibration = calibrate.calibration_summary(cv.oof_all, cv.labels)
    result["calibration"] = calibration.to_dict()
    if args.json:
        _print_json(result)
        return 0
    for line in _layout_lines(getattr(dataset, "layout", None)):
        _out(line)
    grouped = ("identical feature vectors kept in one fold" if result["grouped"]
               else "identical feature vectors may straddle folds (optimistic)")
    _out(f"{result['repeats']} x {result['folds']}-fold stratified cross-validation "
          f"of {_settings_text(config, TrainConfig())} on {dataset.n_usable} rows; {grouped}")
    for key in ("accuracy", "roc_auc", "sensitivity", "specificity", "brier"):
        _out(f"  {key:<12s} {result[key]['mean']:.4f} ± {result[key]['sd']:.4f}")
    cal = result["calibration"]
    _out(f"calibration of the {cv.repeats} x {cv.labels.size} out-of-fold predictions: "
         + ", ".join(f"{key} " + ("n/a" if cal[key] is None else f"{cal[key]:.3f}")
                     for key in ("intercept", "slope", "ece")))
    curve = {round(t, 2): (m, a) for t, m, a in result["decision_curve"]}
    _out("net benefit (model / treat all) at threshold "
         + ", ".join(f"{t:g}: {curve[t][0]:.3f} / {curve[t][1]:.3f}" for t in (0.05, 0.1, 0.2, 0.5)))
    if comparison is not None:
        _out()
        for line in _comparison_lines(comparison):
            _out(line)
    return 0


def _settings_text(config, default) -> str:
    """``the default settings``, or what differs from them: ``the default settings
    except lr 0.01, iterations 500``."""
    ours, theirs = config.to_dict(), default.to_dict()
    changed = [f"{key} {_setting_value(value)}" for key, value in ours.items() if theirs.get(key) != value]
    return "the default settings" + (f" except {', '.join(changed)}" if changed else "")


def _setting_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _comparison_lines(comparison) -> list[str]:
    """The models side by side on the same folds: mean ± sd over the fits, and each
    model's cross-validation time."""
    from bcdesktop.baselines import COMPARE_METRICS

    table = comparison.to_dict()
    width = max(len(name) for name in table)
    lines = [f"same folds, mean ± sd over {comparison.network.folds * comparison.network.repeats} fits:",
             f"  {'model':<{width}s}  " + "  ".join(f"{key:<15s}" for key in COMPARE_METRICS) + "  seconds"]
    for name, metrics in table.items():
        cells = "  ".join("n/a".ljust(15) if m["mean"] is None else
                          f"{m['mean']:.4f} ± {'n/a   ' if m['sd'] is None else format(m['sd'], '.4f')}"
                          for m in (metrics[key] for key in COMPARE_METRICS))
        lines.append(f"  {name:<{width}s}  {cells}  {comparison.results[name].seconds:7.2f}")
    return lines


def cmd_predict(args) -> int:
    from bcdesktop import audit, cli_audit
    from bcdesktop.metrics import format_percent, threshold_at_6_decimals
    from bcdesktop.predictor import BACKGROUND_TEXT, predict_case
    from bcdesktop.schema import parse_scores

    scores = parse_scores(args.scores)
    bundle = _load_model(args.model)
    # the threshold as score uses and writes it, so both commands give one call
    threshold = threshold_at_6_decimals(bundle.threshold if args.threshold is None else args.threshold)
    case = predict_case(bundle, scores, threshold=threshold, background=args.background)
    log = cli_audit.audit_log(args)
    origin = log.origin(bundle)
    entry = cli_audit.record(log, "prediction", **audit.prediction_fields(case, bundle, origin))
    report = None
    if args.report is not None:
        from bcdesktop import report as report_module

        note = None if args.threshold is None else "given on the command line (--threshold)"
        report = report_module.write_report(
            args.report, case, bundle, audit_id=None if entry is None else entry.id, origin=origin,
            threshold_note=note, inputs=[p for p in (bundle.source_path,) if p is not None],
            audit_note=None if not log.enabled else report_module.NO_AUDIT_FAILED)
        cli_audit.record(log, "report", model=bundle,
                         inputs={"entry": None if entry is None else entry.id},
                         output={"path": str(report)})
    if args.json:
        _print_json({**case.to_json(), "audit_entry": None if entry is None else entry.id,
                     "origin": origin, "report": None if report is None else str(report)})
        return 0
    probability = case.probability
    if case.interval is None:
        interval = "interval not available (the model file has no calibration pairs)"
    else:
        interval = f"Venn-Abers interval {format_percent(case.interval[0])}-{format_percent(case.interval[1])}"
    _out(f"malignancy probability: {probability:.4f} ({format_percent(probability)}); {interval}")
    if case.outside_interval is not None:
        _out(f"  the probability is {case.outside_interval} its interval: cross-validated cases scored "
             f"like this one were malignant {'less' if case.outside_interval == 'above' else 'more'} "
             "often than the model says")
    _out(f"call at threshold {threshold:g}: {case.call}")
    if case.explanation is None:
        _out("explanation: not available (the model file has no training patterns)")
    else:
        _out(f"why, against {BACKGROUND_TEXT[args.background]} (log-odds; "
             f"{format_percent(case.explanation.base_probability)} on average):")
        for step in case.explanation.probability_steps():
            i = step.index
            _out(f"  {step.feature + ' ' + str(int(case.scores[i])):<32s} {step.contribution:+7.3f}  "
                 f"{format_percent(step.before):>6s} -> {format_percent(step.after)}")
    if case.evidence is not None:
        _out(f"matching cases: {case.evidence.sentence()}")
        if case.evidence.unusual:
            _out("unusual pattern: farther from every training case than 99% of training "
                 "cases are from their nearest neighbour; treat the estimate with caution")
    _out(f"model: {bundle.model_id} ({origin}" + (": not made on this installation nor shipped with "
                                                  "bcdesktop; check where it came from)" if origin == "external model"
                                                  else ")"))
    if entry is not None:
        _out(f"audit entry: {entry.id}")
    if report is not None:
        _out(f"report: {_printable(str(report))}")
    _out(DISCLAIMER)
    return 0


def cmd_threshold(args) -> int:
    from bcdesktop import decision, outoffold

    if args.save and args.model is None:
        raise UserError("--save needs --model FILE: the model shipped with bcdesktop is never "
                        "written over. Save a copy first (e.g. with train or the window).")
    bundle = original = _load_model(args.model)
    kind = "validation" if args.evidence == "validation" else None
    evidence = outoffold.evidence_of(bundle, kind)
    if args.data is not None and kind is None:
        dataset = _load_data(args.data)
        oof = bundle.oof
        if oof is None or oof.data_sha256 != dataset.sha256 or oof.n != dataset.n_usable:
            bundle = _with_evidence(bundle, dataset, args.json)  # this data's out-of-fold evidence
            evidence = outoffold.evidence_of(bundle)
    elif evidence is None or (kind is None and evidence.kind != outoffold.EVIDENCE_KIND):
        if kind == "validation":
            raise UserError(f"Model {bundle.model_id} keeps no validation rows to judge a threshold "
                            "on. Use its out-of-fold evidence (leave out --evidence).")
        # a model without out-of-fold evidence: cross-validate its settings on the bundled data
        bundle = _with_evidence(bundle, _load_data(None), args.json)
        evidence = outoffold.evidence_of(bundle)

    rule, value = _threshold_rule(args)
    cost = None
    if args.cost_ratio is not None:
        cost = args.cost_ratio
    elif args.cost_matrix is not None:
        cost = args.cost_matrix
    prevalence = args.prevalence
    chosen_by = None
    threshold = bundle.threshold
    if rule is not None:
        choice = decision.choose_threshold(evidence.probs, evidence.labels, rule, value,
                                           prevalence=prevalence, cost=cost, evidence=evidence.kind)
        threshold, chosen_by = choice.threshold, choice.chosen_by
    report = decision.summary(evidence.probs, evidence.labels, threshold, prevalence, cost,
                              evidence=evidence.kind, chosen_by=chosen_by)
    result = report.to_dict()
    result["evidence_description"] = evidence.description
    result["model"] = bundle.model_id
    saved = None
    if args.save:
        from bcdesktop import persistence

        # the threshold only: evidence computed here (--data, or a model without any) is not
        # made the model's calibration pairs behind the user's back, nor its format changed
        new = original.with_threshold(result["threshold"], chosen_by)
        saved = persistence.save_model(new, args.model)
        result["model"] = new.model_id
        from bcdesktop import cli_audit

        log = cli_audit.audit_log(args)
        cli_audit.record(log, "threshold", model=new,
                         inputs={"from": original.threshold, "chosen_by": chosen_by,
                                 "evidence": evidence.description, "previous_model": original.model_id},
                         output={"threshold": new.threshold})
        cli_audit.record(log, "model", model=new, inputs={"action": "saved", "path": str(saved)},
                         output={"origin": log.origin(new)})
    result["saved"] = None if saved is None else str(saved)
    if args.json:
        _print_json(result)
        return 0
    m = result["metrics"]
    _out(f"threshold {result['threshold']:g}" + (f": {chosen_by}" if chosen_by else " (the model's own)"))
    _out(f"evidence: {evidence.description}")
    _out(f"at prevalence {100 * result['prevalence']:.1f}%:")
    for key, label in (("sensitivity", "sensitivity"), ("specificity", "specificity"),
                       ("ppv", "PPV"), ("npv", "NPV")):
        ci = m.get(f"{key}_ci") or [None, None]
        _out(f"  {label:<12s} " + ("n/a" if m[key] is None else f"{m[key]:.3f}" + (
            "" if None in ci else f" (95% CI {ci[0]:.3f}-{ci[1]:.3f})")))
    for key, label in (("f1", "F1"), ("mcc", "MCC"), ("kappa", "kappa"), ("log_loss", "log loss")):
        _out(f"  {label:<12s} " + ("n/a" if m.get(key) is None else f"{m[key]:.3f}"))
    per = result["per_1000"]
    _out("per 1,000 patients: " + ", ".join(f"{per[k]:.1f} {k.upper()}" for k in ("tp", "fp", "tn", "fn")))
    if "expected_cost_per_1000" in result:
        costs = decision.as_costs(cost)
        _out(f"expected cost per 1,000 patients: {result['expected_cost_per_1000']:.1f} "
             f"({costs.describe()}; a model calibrated at the data's prevalence would be cheapest at "
             f"{costs.threshold_at(result['prevalence'], float(evidence.labels.mean())):.4g})")
    nb = result["net_benefit"]
    _out(f"net benefit: model {nb['model']:.4f}, treat all {nb['treat_all']:.4f}, treat none 0")
    if saved is not None:
        _out(f"saved threshold {result['threshold']:g} in {_printable(str(saved))} (id {result['model']})")
    return 0


def _threshold_rule(args) -> tuple[str | None, float | None]:
    if args.sensitivity is not None:
        return ("sensitivity_bound" if args.bound else "sensitivity"), args.sensitivity
    if args.bound:
        raise UserError("--bound goes with --sensitivity X (the lower 95% bound of sensitivity >= X).")
    if args.specificity is not None:
        return "specificity", args.specificity
    if args.youden:
        return "youden", None
    if args.cost_ratio is not None or args.cost_matrix is not None:
        return "cost", None
    return None, None


def _with_evidence(bundle, dataset, quiet: bool):
    """``bundle`` with the out-of-fold evidence of its settings on ``dataset``."""
    from bcdesktop.training import TrainConfig

    if dataset.y is None:
        raise UserError(f"{dataset.path} has no class column; out-of-fold evidence needs labels.")
    return _calibrate(bundle, dataset, TrainConfig.of_model(bundle.settings), quiet, "out-of-fold evidence")[0]


def _fraction(text: str) -> float:
    """A fraction strictly between 0 and 1 (``0.98``; ``98%`` also)."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction such as 0.98") from None
    if not 0.0 < value < 1.0 and value != 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a fraction between 0 and 1, such as 0.98")
    return value


def _prevalence(text: str) -> float:
    value = _fraction(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a prevalence strictly between 0 and 1, such as 0.05")
    return value


def _cost_matrix(text: str) -> list[float]:
    parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"{text!r} must be four costs C_TP,C_FP,C_FN,C_TN such as 0,1,10,0")
    return [_float(p) for p in parts]


def cmd_score(args) -> int:
    from bcdesktop import scoring

    bundle = _load_model(args.model)
    output = Path(args.output) if args.output else scoring.default_output_path(args.input)
    bar = _Progress(1.0, "scoring")

    def progress(p) -> None:
        bar.update(p.fraction, f"{p.rows_done:,} rows, {p.rows_per_s:,.0f} rows/s")

    from bcdesktop import cli_audit
    from bcdesktop.audit import batch_fields

    log = cli_audit.audit_log(args)
    summary = scoring.score_csv(args.input, output, bundle, threshold=args.threshold,
                                force=args.force, progress=progress, explain=args.explain,
                                digests=log.enabled)  # the files' hashes are for the trail
    bar.update(1.0, force=True)
    bar.close()
    cli_audit.record(log, "batch", **batch_fields(summary, bundle, log.origin(bundle)))
    if summary.swept:
        print(_printable(summary.swept_line()), file=sys.stderr)
    for line in _layout_lines(getattr(summary, "layout", None)):
        print(line, file=sys.stderr)
    print(f"wrote {_printable(str(summary.output))}", file=sys.stderr)
    shown = summary.rejections[:10]
    if shown:
        print("rejected rows (kept in the output with the reason in 'status'):", file=sys.stderr)
        for rejection in shown:
            print(f"  {_printable(str(rejection))}", file=sys.stderr)
        if summary.rejected > len(shown):
            print(f"  ... and {summary.rejected - len(shown)} more", file=sys.stderr)
    if summary.metrics is not None:
        print(_format_metrics("labelled rows", summary.metrics), file=sys.stderr)
        if summary.unlabelled:
            print(f"  ({summary.unlabelled} scored rows had no usable class and are not counted)",
                  file=sys.stderr)
    if not summary.intervals:
        print("no interval: the model file has no calibration pairs, so probability_low, "
              "probability_high and indeterminate are empty", file=sys.stderr)
    elif summary.indeterminate:
        print(f"{summary.indeterminate:,} scored rows are indeterminate at this threshold "
              "(the probability and its interval do not give one call)", file=sys.stderr)
    if args.explain and not summary.explained:
        print("no contributions: the model file has no training patterns, so the "
              "contribution columns are empty", file=sys.stderr)
    print(summary.summary_line(), file=sys.stderr)
    return 0


def cmd_install_desktop_entry(args) -> int:
    from bcdesktop import desktop_entry

    command = [args.exec_path] if args.exec_path else None
    report = desktop_entry.install(args.prefix, command, refresh=not args.no_cache_update)
    print("\n".join(_printable(line) for line in report.lines))
    return 0


def cmd_uninstall_desktop_entry(args) -> int:
    from bcdesktop import desktop_entry

    report = desktop_entry.uninstall(args.prefix, refresh=not args.no_cache_update)
    print("\n".join(_printable(line) for line in report.lines))
    return 0


def _add_training_flags(p: argparse.ArgumentParser) -> None:
    """The network's settings, as ``train`` and ``evaluate`` both take them: one
    definition, so their names, types, defaults (None: ``TrainConfig``'s, see
    :func:`_train_config`), checks and help cannot drift apart."""
    from bcdesktop.model import HIDDEN_ACTIVATIONS, INITS, LEAKY_SLOPE
    from bcdesktop.training import DEFAULT_L2, OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    # each optimizer's default L2, the default optimizer's first: "0.003 with adam, 0 with
    # gd, momentum, adagrad and rmsprop"
    l2_defaults: dict[float, list[str]] = {}
    for name in sorted(OPTIMIZERS, key=lambda o: o != d.optimizer):
        l2_defaults.setdefault(DEFAULT_L2[name], []).append(name)
    def listed(names: list[str]) -> str:
        return " and ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} and {names[-1]}"
    l2_default_text = ", ".join(f"{value:g} with {listed(names)}"
                                for value, names in l2_defaults.items())
    p.add_argument("--hidden", type=_hidden,
                   help=f"hidden layer sizes, e.g. 15 or 15,8 (default {','.join(map(str, d.hidden))})")
    p.add_argument("--lr", type=_float, help=f"learning rate (default {d.lr:g})")
    p.add_argument("--iterations", type=_whole(1),
                   help=f"full-batch iterations (default {d.iterations})")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help="gd is the article's plain gradient descent; momentum 0.9; adam; adagrad "
                        "(rate / root of the summed squared gradients); rmsprop (rate / root of "
                        f"their moving average, decay 0.9) (default {d.optimizer})")
    p.add_argument("--init", choices=INITS,
                   help=f"weight initialisation (default {d.init})")
    p.add_argument("--schedule", choices=SCHEDULES,
                   help="learning-rate schedule: sgdr is cosine with warm restarts "
                        "(--restart-period, --restart-mult), inverse_time is 1/t decay "
                        f"(--inverse-decay) (default {d.schedule})")
    p.add_argument("--restart-period", type=_whole(1), metavar="N",
                   help=f"sgdr: updates in the first cycle (default {d.restart_period})")
    p.add_argument("--restart-mult", type=_whole(1), metavar="M",
                   help="sgdr: each cycle is M times as long as the one before "
                        f"(default {d.restart_mult})")
    p.add_argument("--inverse-decay", type=_float, metavar="K",
                   help="inverse_time: the rate is lr / (1 + K t / iterations) at update t, "
                        f"lr / (1 + K) at the end (default {d.inverse_decay:g})")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS,
                   help=f"hidden units' activation; leaky_relu has slope {LEAKY_SLOPE:g} below 0 "
                        f"(default {d.activation})")
    p.add_argument("--dropout", type=_float, metavar="P",
                   help="drop each hidden unit with probability P (0 <= P < 1) at each training "
                        "update, never at prediction (inverted dropout, its masks seeded by --seed) "
                        f"(default {d.dropout:g}: off)")
    p.add_argument("--l2", type=_float,
                   help=f"L2 weight decay (default {l2_default_text})")
    p.add_argument("--patience", type=_whole(0),
                   help="early stopping: iterations without a lower loss on an early-stopping "
                        "split carved from the training rows (never the validation rows); "
                        f"0 = off (default {d.patience})")
    p.add_argument("--seed", type=_whole(0),
                   help=f"seed of the split and the initialisation (default {d.seed})")


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")
    common.add_argument("--no-audit", action="store_true", default=argparse.SUPPRESS,
                        help="record nothing in the audit trail this time")
    parser = _Parser(prog="bcdesktop", parents=[common],
                     description="Malignancy estimates from the nine Wisconsin cytology scores. "
                                 + DISCLAIMER)
    parser.add_argument("--version", action="version", version=f"bcdesktop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("gui", parents=[common], help="open the window (the default)")
    p.add_argument("data", nargs="?", help="a CSV to load instead of the bundled data set")
    p.add_argument("--model", help="a model file to use instead of the shipped default")
    p.add_argument("--self-test", action="store_true",
                   help="open, predict a typical malignant patient, print JSON, close")
    p.add_argument("--ready-file", help="write a timestamp here once the window is ready")
    p.set_defaults(func=cmd_gui)

    # NumPy only (scikit-learn loads inside the commands): the core's choices and defaults
    from bcdesktop import evaluation
    from bcdesktop.metrics import DEFAULT_THRESHOLD
    from bcdesktop.training import TrainConfig

    d = TrainConfig()
    p = sub.add_parser("train", parents=[common], help="train a model and save it",
                       description="Train the network and save it with its scaler, threshold, "
                                   "settings and metrics. The scaler and the network see the "
                                   "training rows only; the validation rows are held out. "
                                   "The article's setup: --split first --train-rows 500 "
                                   "--init article --seed 1 --optimizer gd --lr 0.01.")
    p.add_argument("--data", help="training CSV (default: the bundled UCI data set)")
    p.add_argument("--out", default=DEFAULT_MODEL_OUT,
                   help=f"model file to write (default: {DEFAULT_MODEL_OUT}); only an earlier "
                        "model file is ever replaced")
    _add_training_flags(p)
    p.add_argument("--split", choices=evaluation.SPLITS, default=evaluation.SPLITS[0],
                   help="stratified random split, or the first --train-rows rows train "
                        f"(default {evaluation.SPLITS[0]})")
    p.add_argument("--val-fraction", type=_float, default=evaluation.DEFAULT_VAL_FRACTION,
                   help="with --split stratified: the held-out fraction "
                        f"(default {evaluation.DEFAULT_VAL_FRACTION:g})")
    p.add_argument("--train-rows", type=_whole(1), default=evaluation.DEFAULT_TRAIN_ROWS,
                   help="with --split first: how many leading rows train "
                        f"(default {evaluation.DEFAULT_TRAIN_ROWS})")
    p.add_argument("--threshold", type=_threshold, default=DEFAULT_THRESHOLD,
                   help="probability at or above which a case is called malignant "
                        f"(default {DEFAULT_THRESHOLD:g})")
    p.add_argument("--log-every", type=_whole(1),
                   help=f"print the loss every N iterations (default {d.log_every})")
    p.add_argument("--no-calibrate", action="store_true",
                   help="skip the cross-validation of these settings that gives the model "
                        "its calibration pairs (out-of-fold evidence); the model then has "
                        "no probability interval")
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    p.add_argument("--replace-shipped-model", action="store_true",
                   help="for maintainers: allow --out to be the model shipped with the app "
                        "(data/default_model.npz), which is otherwise never written over")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", parents=[common],
                       help="cross-validate the default settings or the ones given",
                       description="Repeated stratified k-fold cross-validation of the network with "
                                   "the default settings, or with the training flags of 'train'. In "
                                   "each fold the scaler and the network see that fold's training "
                                   "rows only; identical feature vectors stay in one fold.")
    p.add_argument("--data", help="labelled CSV (default: the bundled UCI data set)")
    # checked here, before scikit-learn loads
    p.add_argument("--folds", type=_whole(2), default=evaluation.DEFAULT_FOLDS)
    p.add_argument("--repeats", type=_whole(1), default=evaluation.DEFAULT_REPEATS)
    _add_training_flags(p)  # --seed also chooses the folds, as in the window's Cross-validate
    p.add_argument("--no-group", action="store_true",
                   help="let identical feature vectors fall in different folds (optimistic)")
    from bcdesktop import baselines

    p.add_argument("--compare", action="store_true",
                   help="also cross-validate scikit-learn's LogisticRegression (max_iter "
                        f"{baselines.LR_MAX_ITER}) and RandomForestClassifier ({baselines.RF_TREES} "
                        "trees) on the same folds, min-max scaled on each fold's training rows as "
                        "the network is, both with random_state = --seed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", parents=[common], help="one patient's malignancy probability")
    p.add_argument("--model", help="model file (default: the shipped model)")
    p.add_argument("--threshold", type=_threshold)
    p.add_argument("--background", choices=("training", "benign"), default="training",
                   help="what the explanation compares the case with: all training cases "
                        "(default) or the benign ones")
    p.add_argument("--report", metavar="FILE.pdf",
                   help="also write a one-page PDF report of this prediction (atomically)")
    p.add_argument("--json", action="store_true")
    p.add_argument("scores", nargs="*", metavar="S",
                   help="the nine scores 1-10, in the order: Clump Thickness, Uniformity of "
                        "Cell Size, Uniformity of Cell Shape, Marginal Adhesion, Single "
                        "Epithelial Cell Size, Bare Nuclei, Bland Chromatin, Normal Nucleoli, "
                        "Mitoses")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("threshold", parents=[common],
                       help="choose the threshold on the model's out-of-fold evidence",
                       description="Choose a threshold and see its figures on the model's "
                                   "out-of-fold evidence (the repeated, duplicate-aware "
                                   "cross-validation of its own settings; computed on --data, "
                                   "or the bundled data, when the model has none). Without a "
                                   "rule, the figures of the model's own threshold.")
    p.add_argument("--model", help="model file (default: the shipped model)")
    p.add_argument("--data", help="labelled CSV to compute the out-of-fold evidence on "
                                  "(default: the evidence kept in the model file)")
    rule = p.add_mutually_exclusive_group()
    rule.add_argument("--sensitivity", type=_fraction, metavar="X",
                      help="the highest threshold with sensitivity >= X (e.g. 0.98)")
    rule.add_argument("--specificity", type=_fraction, metavar="X",
                      help="the lowest threshold with specificity >= X")
    rule.add_argument("--youden", action="store_true", help="the threshold maximising Youden's J")
    rule.add_argument("--cost-ratio", type=_positive, metavar="R",
                      help="minimum expected cost when one missed cancer costs as much as R "
                           "false alarms (a larger R gives a lower threshold)")
    rule.add_argument("--cost-matrix", type=_cost_matrix, metavar="C_TP,C_FP,C_FN,C_TN",
                      help="minimum expected cost for a 2x2 cost matrix, as Weka's")
    p.add_argument("--bound", action="store_true",
                   help="with --sensitivity: the lower 95%% bound of sensitivity >= X")
    p.add_argument("--prevalence", type=_prevalence, metavar="P",
                   help="prevalence for PPV, NPV, counts and costs (e.g. 0.05; default the data's)")
    p.add_argument("--evidence", choices=("out-of-fold", "validation"), default="out-of-fold",
                   help="judge on the out-of-fold evidence (default) or the model's validation split")
    p.add_argument("--save", action="store_true",
                   help="write the chosen threshold into the --model file (atomically)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_threshold)

    p = sub.add_parser("score", parents=[common], help="score every row of a CSV")
    p.add_argument("input", help="CSV of patients")
    p.add_argument("-o", "--output", help="output CSV (default: INPUT_STEM.scored.csv beside it)")
    p.add_argument("--model", help="model file (default: the shipped model)")
    p.add_argument("--threshold", type=_threshold)
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--explain", action="store_true",
                   help="add the nine contribution_<feature> columns (log-odds, against the training "
                        "rows; about 10 ms for each distinct row)")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("install-desktop-entry", parents=[common],
                       help="add bcdesktop to the Linux application menu (this user)",
                       description="Write ~/.local/share/applications/bcdesktop.desktop (or under "
                                   "$XDG_DATA_HOME), starting this program by its absolute path, and "
                                   "the icons into the hicolor theme; creates the folders.")
    p.add_argument("--prefix", help="write under PREFIX/share instead (e.g. a package's usr/)")
    p.add_argument("--exec", dest="exec_path", metavar="PATH",
                   help="absolute path of the program the entry starts (default: this one)")
    p.add_argument("--no-cache-update", action="store_true",
                   help="do not run update-desktop-database / gtk-update-icon-cache")
    p.set_defaults(func=cmd_install_desktop_entry)
    p = sub.add_parser("uninstall-desktop-entry", parents=[common],
                       help="remove what install-desktop-entry wrote, nothing else")
    p.add_argument("--prefix", help="remove from under PREFIX/share instead")
    p.add_argument("--no-cache-update", action="store_true",
                   help="do not run update-desktop-database / gtk-update-icon-cache")
    p.set_defaults(func=cmd_uninstall_desktop_entry)
    from bcdesktop import cli_audit, cli_landscape

    cli_landscape.add_parsers(sub, common)
    cli_audit.add_parsers(sub, common)
    return parser


def _looks_like_a_mistyped_command(word: str) -> bool:
    """``bcdesktop bogus``: a bare word that names no file is a command typed wrong, not a
    data file to open (a file name has a dot or a folder, or exists)."""
    return (not word.startswith("-") and "." not in word and "/" not in word and os.sep not in word
            and not os.path.exists(word))


class _Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C, so temporary files are removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame) -> None:
    raise _Terminated(signum)


def _stop_cleanly_on_signals() -> dict:
    """Turn SIGTERM and SIGHUP into :class:`_Terminated` (only the main thread may);
    returns the handlers they replaced, for :func:`_restore_signals`."""
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None:
            try:
                previous[signum] = signal.signal(signum, _on_signal)
            except (ValueError, OSError):  # not the main thread, or not allowed here
                pass
    return previous


def _restore_signals(previous: dict) -> None:
    for signum, handler in previous.items():
        try:
            signal.signal(signum, handler)
        except (ValueError, OSError, TypeError):
            pass


def main(argv: list[str] | None = None) -> int:
    _ensure_streams()
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    commands = {"gui", "train", "evaluate", "predict", "score", "threshold", "install-desktop-entry",
                "uninstall-desktop-entry", "landscape", "lr-find", "audit", "card"}
    first = next((a for a in argv if a not in ("--debug", "--no-audit")), None)
    if first is None or first not in commands | {"--version", "-h", "--help"}:
        if first is not None and _looks_like_a_mistyped_command(first):
            print(f"error: unknown command '{_printable(first)}'; the commands are "
                  f"{', '.join(sorted(commands))} (or give a CSV file to open in the window; "
                  "see 'bcdesktop --help')", file=sys.stderr)
            return EXIT_USER_ERROR
        argv = ["gui", *argv]  # `bcdesktop`, `bcdesktop FILE.csv`, `bcdesktop --model M`
    previous_handlers: dict = {}
    try:
        args = build_parser().parse_args(argv)
        if args.func is not cmd_gui:
            previous_handlers = _stop_cleanly_on_signals()
        code = args.func(args)
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
        return code
    except _Terminated as exc:
        name = signal.Signals(exc.signum).name
        print(f"stopped by {name}; no partial output was left behind", file=sys.stderr)
        return 128 + exc.signum
    except UserError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        print(f"error: {_printable(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except (Cancelled, KeyboardInterrupt):
        print("cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: say so plainly, details only on request
        if debug:
            import traceback

            traceback.print_exc()
        print(f"internal error: {type(exc).__name__}: {_printable(str(exc))} (run again with --debug for "
              "the details, and please report it)", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    finally:
        _restore_signals(previous_handlers)  # main() may run inside another program (the tests)


if __name__ == "__main__":
    sys.exit(main())
