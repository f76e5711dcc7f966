"""The ``crnnaudit`` command: the parser built from each command group's module, and
:func:`main`, where every failure ends in one line and exit status 2."""

from __future__ import annotations

import argparse
import sys

from ..config import quiet_tensorflow, setting
from . import accounts, dataset, demo, inspect, keys, log, privacy, reports

#: The command groups, in the order ``crnnaudit --help`` lists them.
GROUPS = (inspect, dataset, reports, log, keys, accounts, privacy, demo)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes end like every other failure: one line, exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (it imports no TensorFlow: each command imports what it needs
    when it runs)."""
    p = _Parser(prog="crnnaudit", description="Audit CNN + RNN video anomaly-detection models: explain, "
                                              "review, report, and keep the evidence.")
    p.add_argument("--verbose", action="store_true",
                   help="let TensorFlow's start-up notices through, and show a traceback on an unexpected failure")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for group in GROUPS:
        group.add_commands(sub)
    return p


def main(argv=None) -> int:
    """Run one command. Every failure ends in one line on stderr and exit status 2: the
    message of a crnnaudit error, else a short notice (``--verbose`` or ``CRNNAUDIT_DEBUG=1``
    shows the traceback of an unexpected failure instead)."""
    from ..errors import CrnnauditError
    args = build_parser().parse_args(argv)
    quiet_tensorflow(verbose=args.verbose)
    try:
        return args.fn(args)
    except CrnnauditError as e:
        print(f"crnnaudit: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except (MemoryError, RecursionError, OSError) as e:
        print(f"crnnaudit: error: {args.command}: {type(e).__name__}: {_one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - one line, never a traceback, unless debugging
        if args.verbose or setting("CRNNAUDIT_DEBUG"):
            raise
        print(f"crnnaudit: error: {args.command} failed unexpectedly ({type(e).__name__}: "
              f"{_one_line(e)}); run with --verbose for the traceback and report it", file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:2000] or type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
