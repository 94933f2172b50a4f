"""The `explain` command. User mistakes print one line and exit with code 2, never a traceback.

One module per group of commands (`review`, `corpus`, `models`), all registered on the one Typer app of
`explain.cli.common`; this module runs it (`main`, the console script).
"""

from __future__ import annotations

import importlib
import sys
import warnings

import typer

from explain.cli.common import _show_library_log, app, err, fail, os_error_message, show_warning
from explain.errors import UserError

__all__ = ["app", "main"]

for _group in ("review", "models", "corpus", "amortize"):  # importing a group registers its commands, in this order
    importlib.import_module(f"explain.cli.{_group}")


def main() -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    _show_library_log()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.showwarning = show_warning
        try:
            from explain.limits import check_environment

            check_environment()  # a bad REVIEW_EXPLAINER_* setting is reported before any work
            code = app(standalone_mode=False)  # click returns (not raises) a command's typer.Exit code here
            if isinstance(code, int) and code:
                sys.exit(code)
        except UserError as exc:
            fail(str(exc))
        except OSError as exc:  # --file pointing nowhere, a full disk, a folder we may not write
            fail(os_error_message(exc))
        except MemoryError:
            fail("out of memory; try shorter texts, fewer at a time, or smaller method budgets (--param)")
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            err.print("aborted")
            sys.exit(130)
        except Exception as exc:  # usage errors (unknown option, bad value) carry an exit code
            show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
            if not (callable(show) and isinstance(code, int)):  # not click's (or typer's copy of click's)
                raise
            if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
                show()  # `explain` alone: the help text
                sys.exit(code)
            ctx = getattr(exc, "ctx", None)
            usage = f" (usage: {ctx.command_path} [OPTIONS]; see --help)" if ctx is not None else ""
            fail(exc.format_message() + usage, code)
