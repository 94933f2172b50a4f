"""Where a trained model is written: checked before training, written to a temporary sibling, renamed.

Only a folder holding exactly a model this tool wrote (its marker lists every file) is ever replaced,
and only when asked (`overwrite`) or when the caller owns the location (the default model's cache).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from explain.atomic import write_atomic
from explain.errors import InvalidValueError, OutputError
from explain.inert import json_dumps

# Written into every model folder this tool writes, listing its files: only such a folder is ever replaced.
MODEL_MARKER = "review-explainer-model.json"


def _written_files(folder: Path) -> list[str]:
    """The names of the files this tool wrote into a model folder (from its marker), or [] if none."""
    try:
        marker = json.loads((folder / MODEL_MARKER).read_text(encoding="utf-8"))
        return list(marker["files"]) + [MODEL_MARKER]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _check_replaceable(out_dir: Path, overwrite: bool, owned: bool) -> None:
    """Raise OutputError unless writing a model to `out_dir` destroys nothing of the user's."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise OutputError(f"--out {out_dir} is a file, not a folder; choose a folder name for the model")
    if out_dir.exists() and os.path.ismount(out_dir):  # it cannot be renamed aside or replaced
        raise OutputError(f"--out {out_dir} is a mount point; name a new folder inside it, e.g. {out_dir / 'model'}")
    resolved, cwd = out_dir.resolve(), Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved == Path.home().resolve():
        raise OutputError(
            f"--out {out_dir} is the current folder, your home folder or holds them; name a new folder for the model"
        )
    if not out_dir.exists() or owned:
        return
    present = sorted(p.name for p in out_dir.iterdir())
    if not present:
        return
    written = _written_files(out_dir)
    foreign = [name for name in present if name not in written]
    if not written or foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputError(
            f"--out {out_dir} already holds files that are not a model written by review-explainer ({shown}); "
            "nothing was changed: choose a new or empty folder"
        )
    if not overwrite:
        raise OutputError(
            f"--out {out_dir} already holds a model; pass --overwrite to replace it, or choose a new folder"
        )


def check_output_folder(out_dir: Path, overwrite: bool = False) -> None:
    """The checks of `prepare_output`, creating nothing: for a command to refuse a bad --out before reading data."""
    _check_replaceable(Path(out_dir), overwrite, owned=False)


def prepare_output(out_dir: Path, overwrite: bool = False, owned: bool = False) -> Path:
    """Check `out_dir` before any work and create the temporary sibling folder the model is written to.

    Refuses (OutputError, nothing touched) a path that is a file, the current or home folder or one
    of their parents, a non-empty folder that is not a model this tool wrote (its marker lists every
    file it holds), and an existing model unless `overwrite`; an unwritable location fails here, not
    after training. `owned` skips the content check for locations the tool owns (its cache).
    """
    _check_replaceable(out_dir, overwrite, owned)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    except OSError as exc:
        raise OutputError(f"cannot write the model to {out_dir}: {exc.strerror or exc}") from exc


def save_model(model, tokenizer, out_dir, tmp, on_saved, recipe: dict, replace: bool, owned: bool) -> None:
    """Write weights, tokenizer, metrics and the marker into `tmp`, then rename it to `out_dir`.

    A model with a NaN or infinite weight (training diverged) is refused: nothing is written."""
    import torch

    broken = [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
    if broken:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InvalidValueError(
            f"training diverged: {len(broken)} weight tensor(s) hold NaN or infinite values (e.g. {broken[0]}); "
            "nothing was written; lower --lr"
        )
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        metrics = on_saved(tmp) if on_saved else {}
        metrics.setdefault("training", recipe)
        write_atomic(tmp / "metrics.json", json_dumps(metrics, indent=2))  # a NaN is written as null
        files = sorted(p.name for p in tmp.iterdir())
        write_atomic(tmp / MODEL_MARKER, json_dumps({"written_by": "review-explainer", "files": files}, indent=2))
    except OSError as exc:
        raise OutputError(f"cannot write the model to {tmp}: {exc.strerror or exc}") from exc
    _check_replaceable(out_dir, replace, owned)  # again: the folder may have changed while we trained
    old = None
    try:
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            out_dir.rename(old / "model")
        tmp.rename(out_dir)
    except OSError as exc:  # nothing half-done is left: the previous model back in place, no .old-* folder
        if old is not None and (old / "model").exists() and not out_dir.exists():
            (old / "model").rename(out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise OutputError(f"cannot write the model to {out_dir}: {exc.strerror or exc}") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
