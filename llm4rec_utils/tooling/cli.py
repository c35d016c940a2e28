"""The command lines' shared rule for bad input: one line on stderr that names the problem and
the fix, exit status 2, no traceback and nothing half-written."""

from __future__ import annotations

import argparse
import sys


class BadInput(ValueError):
    """Input the user can fix (a path, a file, a name): reported in one line, exit status 2."""


def one_line(message: object) -> str:
    """``message`` on a single line (newlines and runs of blanks folded)."""
    return " ".join(str(message).split())


def fail(prog: str, message: object) -> int:
    """Print ``prog: error: message`` as one line on stderr; return the exit status (2)."""
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
    return 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``--help`` still shows the whole usage)."""

    def error(self, message: str):  # argparse's hook for usage errors
        self.refuse(f"{message} (see --help)")

    def refuse(self, message: object):
        """Bad input the arguments named: one line, exit status 2."""
        fail(self.prog, message)
        raise SystemExit(2)
