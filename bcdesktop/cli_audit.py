"""Command line: ``bcdesktop audit`` and ``bcdesktop card``, and the audit-trail helpers
the other commands record their work with (issue 13)."""

from __future__ import annotations

import argparse
import sys

from bcdesktop.cliutil import _load_model, _out, _print_json, _printable
from bcdesktop.errors import UserError

EXIT_BROKEN_CHAIN = 2


# ------------------------------------------------------------------ for the other commands
def audit_log(args):
    """The audit trail for this command: off with ``--no-audit`` or when the window's
    setting turned it off."""
    from bcdesktop import audit

    enabled = not getattr(args, "no_audit", False) and audit.setting_enabled()
    return audit.AuditLog(enabled=enabled, source="command line")


def record(log, kind: str, **fields):
    """Write one entry; a log that cannot be written is said once on stderr and the
    command goes on. Returns the entry, or None."""
    entry = log.record(kind, **fields)
    problem = log.take_problem()
    if problem:
        print(f"warning: {_printable(problem)}", file=sys.stderr)
    return entry


def remember(log, bundle, how: str) -> None:
    """Record ``bundle``'s network as made on this installation; a failure is said once."""
    if not log.remember_model(bundle, how):
        problem = log.take_problem()
        if problem:
            print(f"warning: {_printable(problem)}", file=sys.stderr)


# ------------------------------------------------------------------ bcdesktop audit
def cmd_audit(args) -> int:
    from bcdesktop import audit

    log = audit.AuditLog(source="command line")
    try:
        path = log.path
        if args.verify:
            result = log.verify()
            if args.json:
                _print_json({**result.to_json(), "path": str(path)})
            else:
                _out(f"{_printable(str(path))}: {result.sentence()}")
            return 0 if result.ok else EXIT_BROKEN_CHAIN
        since = None
        if args.since is not None:
            try:
                since = audit.parse_since(args.since)
            except ValueError as exc:
                raise UserError(f"--since {exc}") from None
        entries = log.entries(since=since, kinds=args.kind or None)
    except audit.AuditUnavailable as exc:
        raise UserError(str(exc)) from None
    if args.export:
        written = audit.export_csv(args.export, entries, log_path=path)
        print(f"wrote {len(entries):,} entr{'y' if len(entries) == 1 else 'ies'} to {_printable(str(written))}",
              file=sys.stderr)
        if not args.json:
            return 0
    if args.json:
        _print_json([e.to_json() for e in entries])
        return 0
    if not entries:
        _out(f"no entries{' since ' + args.since if args.since else ''} in {_printable(str(path))}")
        return 0
    for e in entries:
        # every field escaped: an edited log can hold control characters in any of them
        _out(_printable(f"{e.id:>6d}  {e.time_utc[:19].replace('T', ' ')} UTC  {e.kind:<10s}  {e.user:<12s}  "
                        f"{e.model_id or '-':<10s}  {e.summary()}"))
    return 0


# ------------------------------------------------------------------ bcdesktop card
def cmd_card(args) -> int:
    from bcdesktop import audit, card

    bundle = _load_model(args.model)
    origin = audit.AuditLog().origin(bundle)
    if origin not in card.ORIGINS:   # "origin unknown" (a log that cannot be read): the card says so
        origin = None
    if args.output is None:
        text = card.model_card(bundle, origin=origin).markdown()
        _out(text.rstrip("\n"))
        return 0
    inputs = [p for p in (getattr(bundle, "source_path", None),) if p is not None]
    written = card.write_card(args.output, bundle, origin=origin, inputs=inputs)
    print(f"wrote the model card of {bundle.model_id} to {_printable(str(written))}", file=sys.stderr)
    return 0


def add_parsers(sub, common: argparse.ArgumentParser) -> None:
    from bcdesktop import audit

    p = sub.add_parser("audit", parents=[common], help="list or check the audit trail",
                       description="The audit trail: every prediction, batch run, model and threshold "
                                   "change made on this installation by this user, oldest first, "
                                   "with a hash chain that shows a deleted, edited or moved entry. "
                                   "Times are UTC.")
    p.add_argument("--since", metavar="DATE", help="only entries from DATE on (UTC), e.g. 2026-12-01 "
                                                   "or 2026-12-01T14:30")
    p.add_argument("--kind", action="append", choices=audit.KINDS,
                   help="only entries of this kind (repeat for several)")
    p.add_argument("--json", action="store_true", help="print a JSON list of entry objects, oldest first")
    p.add_argument("--export", metavar="CSV", help="write the entries to this CSV file (atomically)")
    p.add_argument("--verify", action="store_true",
                   help="check the hash chain: exit 0 when intact, 2 naming the first bad entry")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("card", parents=[common], help="write a model card",
                       description="A model card (Mitchell et al. 2019, with the TRIPOD+AI items that "
                                   "apply) from the model file's own provenance and figures.")
    p.add_argument("--model", help="model file (default: the shipped model)")
    p.add_argument("-o", "--output", metavar="FILE.md|FILE.html",
                   help="write the card here, Markdown or HTML by the suffix (default: print Markdown)")
    p.set_defaults(func=cmd_card)

