"""Loading a Hugging Face sequence-classification checkpoint safely: a local folder or a hub id, refused
in one line when it is not a classifier, needs remote code, holds unsafe pickle weights or has an
untrained head (`Classifier.from_pretrained` is the entry point).
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from explain.errors import HubUnreachableError, ModelError, ModelNotFoundError, UnsafeModelError, UntrainedHeadError


def load_checkpoint(
    name_or_path: str | Path | None,
    device: str = "cpu",
    trust_remote_code: bool = False,
    *,
    name: str | None = None,
    allow_untrained_head: bool = False,
):
    """(model, tokenizer, name, device, untrained weight names) of a checkpoint (see `Classifier.from_pretrained`)."""
    if name_or_path is None:
        raise ModelNotFoundError("no model named; the embedded default model loads with explain.load_classifier()")
    path = Path(name_or_path).expanduser()
    name = name or str(name_or_path)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    _check_link(path)
    local = Path(path).exists()
    pickle_only = local and _check_local_folder(Path(path))
    if not local and not _looks_like_hub_id(str(name_or_path)):
        raise ModelNotFoundError(f"model folder {str(path)!r} does not exist")
    if not local and not _hub_reachable():
        raise HubUnreachableError(
            f"{name!r} is not a local folder and no model hub is reachable from here. Point --model at a "
            "local folder holding config.json, the tokenizer files and model.safetensors, or omit it "
            "for the embedded default model."
        )
    tokenizer, model, loading = _load_checkpoint(str(path), name, local, trust_remote_code)
    if pickle_only:
        warnings.warn(
            f"{path} has only pickle weights (pytorch_model.bin); loading pickle can run arbitrary code. "
            "Load folders you trust, and prefer converting them to safetensors.",
            UserWarning,
            stacklevel=2,
        )
    untrained = _untrained_weights(name, loading, allow_untrained_head)
    return model, tokenizer, name, device, untrained


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Can we open a connection to the model hub (quickly, instead of minutes of retries)?"""
    import os
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = urlparse(endpoint).hostname or "huggingface.co"
    port = urlparse(endpoint).port or (443 if endpoint.startswith("https") else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) <= 2 and all(parts) and not name.startswith((".", "~"))


def _load_checkpoint(path: str, name: str, local: bool, trust_remote_code: bool):
    """(tokenizer, model, transformers' loading info) of a checkpoint; every failure a one-line user error."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
        model, loading = AutoModelForSequenceClassification.from_pretrained(
            str(path), attn_implementation="eager", trust_remote_code=trust_remote_code, output_loading_info=True
        )
    except pickle.UnpicklingError as exc:
        raise UnsafeModelError(
            f"{name}'s pickle weights (pytorch_model.bin) hold code or objects that torch refuses to load "
            f"({_pickle_reason(str(exc))}); use a model saved as model.safetensors"
        ) from exc
    except RuntimeError as exc:
        if "mismatch" not in str(exc):
            raise _damaged(name, exc, local) from exc
        raise UntrainedHeadError(
            f"{name}'s weights do not fit its config (size mismatch, e.g. a head for another number of "
            "labels); fix config.json's num_labels/id2label or retrain the head with `explain train`"
        ) from exc
    except ValueError as exc:
        if "trust_remote_code" in str(exc):
            raise UnsafeModelError(
                f"{name} needs its own Python code to load; only if you trust its author, pass "
                "--trust-remote-code (Classifier.from_pretrained(..., trust_remote_code=True))"
            ) from exc
        first = str(exc).strip().split(". ")[0].splitlines()[0][:200]  # not the ~300 supported class names
        raise ModelNotFoundError(f"{name} is not a sequence-classification checkpoint: {first}") from exc
    except OSError as exc:
        if local:
            raise ModelNotFoundError(f"could not load {name}: {exc}") from exc
        raise HubUnreachableError(
            f"{name!r} is not a local folder and the model hub could not provide it (no hub reachable "
            "from here, or no such model). Point --model at a local folder holding config.json, "
            "the tokenizer files and model.safetensors."
        ) from exc
    except Exception as exc:  # a damaged local folder: truncated safetensors, a cut pickle, a broken tokenizer file
        raise _damaged(name, exc, local) from exc
    return tokenizer, model, loading


def _damaged(name: str, exc: Exception, local: bool) -> Exception:
    """A one-line ModelError for a local checkpoint that fails to load (a truncated or damaged file); a hub
    model's unexpected failure is returned as it is (re-raised)."""
    if not local:
        return exc
    lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
    detail = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
    return ModelError(
        f"could not load {name} ({detail}): a weights, config or tokenizer file is truncated or damaged; "
        "copy or save the model folder again"
    )


def check_checkpoint_files(name_or_path: str | Path, trust_remote_code: bool = False) -> None:
    """Check a local checkpoint folder before any work (`explain train --base`), in one line each: a symbolic link
    loop, no config.json (an empty folder), no weights, a config that needs the model's own code (`auto_map`),
    truncated safetensors (their header and sizes are read, not the weights), pickle weights torch refuses.
    A name that is not a local path (a hub id) is left to the loader."""
    import json

    path = Path(name_or_path).expanduser()
    _check_link(path)
    if not path.exists():
        return
    pickle_only = _check_local_folder(path)
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(
            f"{path}/config.json is not readable JSON ({exc}); copy or save the model folder again"
        ) from None
    if not isinstance(config, dict):
        raise ModelError(f"{path}/config.json is not a model config (a JSON object)")
    if config.get("auto_map") and not trust_remote_code:
        raise UnsafeModelError(
            f"{path} needs its own Python code to load (config.json has auto_map); only a model whose code you "
            "trust may run it, and training does not run model code: use a standard checkpoint"
        )
    if pickle_only:
        for weights in sorted(path.glob("pytorch_model*.bin")):
            try:
                torch.load(weights, map_location="cpu", weights_only=True, mmap=True)
            except pickle.UnpicklingError as exc:
                raise UnsafeModelError(
                    f"{path}'s pickle weights ({weights.name}) hold code or objects that torch refuses to load "
                    f"({_pickle_reason(str(exc))}); use a model saved as model.safetensors"
                ) from None
            except Exception as exc:  # a cut zip or pickle
                raise _damaged(str(path), exc, True) from None
        return
    from safetensors import safe_open

    for weights in sorted(path.glob("*.safetensors")):
        try:
            with safe_open(str(weights), framework="pt"):
                pass
        except Exception as exc:  # SafetensorError: invalid header, file not fully covered (truncated)
            raise _damaged(str(path), exc, True) from None


def _check_link(path: Path) -> None:
    import errno
    import os

    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ModelNotFoundError(
                f"model folder {path} is a symbolic link loop; point it at a real folder"
            ) from None
        if os.path.islink(path):
            raise ModelNotFoundError(
                f"model folder {path} is a symbolic link to nothing ({os.readlink(path)})"
            ) from None


def _untrained_weights(name: str, loading: dict, allow: bool) -> tuple[str, ...]:
    """Weights the checkpoint did not provide (randomly initialised): refused unless `allow`, then a warning."""
    untrained = sorted(loading.get("missing_keys") or []) + sorted(loading.get("mismatched_keys") or [])
    if untrained and not allow:
        raise UntrainedHeadError(
            f"{name} has no trained weights for {_some(untrained)}, so its predictions would be random "
            "(a base or masked-LM checkpoint, not a classifier): fine-tune it with `explain train`, or pass "
            "--allow-untrained-head (allow_untrained_head=True) to load it anyway"
        )
    if untrained:
        warnings.warn(
            f"{name} has an untrained classification head ({_some(untrained)} randomly initialised); "
            "its predictions and explanations are meaningless",
            UserWarning,
            stacklevel=3,
        )
    return tuple(untrained)


def _pickle_reason(message: str) -> str:
    """The line of torch's long weights-only refusal that names what was blocked."""
    lines = [x.strip() for x in message.splitlines() if x.strip()]
    return next((x for x in lines if "GLOBAL" in x or "global" in x), lines[0] if lines else "refused")[:200]


def _some(names: Sequence[str], n: int = 4) -> str:
    """The first `n` names and how many more, e.g. "classifier.weight, classifier.bias and 2 more"."""
    shown = ", ".join(names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


def _check_local_folder(path: Path) -> bool:
    """Refuse what is not a model folder; True when its weights are pickle only (warned about once loaded)."""
    if path.is_file():
        raise ModelNotFoundError(f"{path} is a file; pass the folder that holds config.json")
    if not (path / "config.json").exists():
        raise ModelNotFoundError(f"{path} has no config.json; it is not a Hugging Face model folder")
    has_safe = any(path.glob("*.safetensors"))
    has_pickle = any(path.glob("pytorch_model*.bin"))
    if not has_safe and not has_pickle:
        raise ModelNotFoundError(f"{path} holds no model weights (model.safetensors)")
    return not has_safe
