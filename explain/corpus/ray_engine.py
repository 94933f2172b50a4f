"""The `ray` engine of corpus runs: Ray Data `map_batches` over an actor pool, one model per actor.

The driver ships the model's files through Ray's object store, every actor checks it loaded the same
model (fingerprint), and the driver writes results into its store as they stream back.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from explain.classifier import Classifier
from explain.corpus.spec import MethodSpec, RunStats, store_key
from explain.errors import UserError
from explain.progress import Ticker
from explain.store import ExplanationStore, fingerprint


def model_files(classifier: Classifier) -> dict[str, bytes]:
    """The classifier saved as a Hugging Face folder, as {file name: bytes} (shipped to Ray actors)."""
    with tempfile.TemporaryDirectory(prefix="explain-model-") as tmp:
        classifier.model.save_pretrained(tmp)
        classifier.tokenizer.save_pretrained(tmp)
        return {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}


class ExplainActor:
    """A Ray Data `map_batches` actor: loads the classifier once, then explains batches of rows."""

    def __init__(self, model: Mapping[str, Any], name: str, threads: int = 1):
        import ray
        import torch

        files = model["files"]  # nested in a dict so Ray hands the reference over instead of pinning it
        if isinstance(files, ray.ObjectRef):
            files = ray.get(files)
        torch.set_num_threads(max(1, int(threads)))
        self._folder = tempfile.TemporaryDirectory(prefix="explain-actor-")
        for file_name, data in files.items():
            (Path(self._folder.name) / file_name).write_bytes(data)
        self.classifier = Classifier.from_pretrained(self._folder.name)
        self.classifier.name = name
        self.fingerprint = fingerprint(self.classifier)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list]:
        from explain.methods import explain

        out: dict[str, list] = {"index": [], "payload": [], "error": [], "fingerprint": []}
        for index, text, method, params in zip(
            batch["index"], batch["text"], batch["method"], batch["params"], strict=True
        ):
            payload, error = "", ""
            try:
                result = explain(self.classifier, str(text), method=str(method), **json.loads(str(params)))
                payload = json.dumps(result.to_dict(), separators=(",", ":"), ensure_ascii=False)
            except Exception as exc:  # reported back to the driver, which records it
                error = f"{type(exc).__name__}: {exc}"
            out["index"].append(int(index))
            out["payload"].append(payload)
            out["error"].append(error)
            out["fingerprint"].append(self.fingerprint)
        return out


def _ray():
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise UserError("the ray engine needs Ray: pip install 'review-explainer[ray]'") from exc
    return ray


def _quiet(ray) -> None:
    """Ray Data draws no progress bars of its own (ours is the one) and keeps its chatter out of the log."""
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    for name, level in _QUIET_RAY_LOGGERS.items():  # "progress bars disabled", "execution finished"
        logging.getLogger(name).setLevel(level)


_QUIET_RAY_LOGGERS = {
    "ray.data._internal.progress": logging.ERROR,
    "ray.data._internal.execution.streaming_executor": logging.WARNING,
}


def run_ray(
    classifier: Classifier,
    todo: Sequence[tuple[str, MethodSpec]],
    store: ExplanationStore,
    fp: str,
    stats: RunStats,
    bar: Ticker,
    *,
    address: str | None,
    actors: int | None,
    batch_size: int,
) -> None:
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError as exc:
            raise UserError(f"could not connect to the Ray cluster at {address!r}: {exc}") from exc
    try:
        _quiet(ray)
        if actors is None:
            actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actors = max(1, min(actors, len(todo)))
        threads = int(os.environ.get("EXPLAIN_RAY_THREADS", "1"))
        model_ref = ray.put(model_files(classifier))
        rows = [
            {"index": i, "text": text, "method": spec.name, "params": spec.params_json}
            for i, (text, spec) in enumerate(todo)
        ]
        blocks = max(1, min(len(rows), actors * 4))
        ds = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            ExplainActor,
            fn_constructor_kwargs={"model": {"files": model_ref}, "name": classifier.name, "threads": threads},
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_size=batch_size,
            num_cpus=threads,
        )
        for row in ds.iter_rows():
            text, spec = todo[int(row["index"])]
            if row["fingerprint"] != fp:
                raise RuntimeError(
                    f"a Ray actor loaded a different model (fingerprint {row['fingerprint']} "
                    f"instead of {fp}); results were not stored"
                )
            if row["error"]:
                stats.failed.append((spec.name, text, str(row["error"])))
                bar.set_postfix(cached=stats.cached, failed=len(stats.failed))
            else:
                stats.stored(store.put(store_key(fp, spec, text, classifier), json.loads(row["payload"])))
            bar.update(1)
    finally:
        if started_here:
            ray.shutdown()
