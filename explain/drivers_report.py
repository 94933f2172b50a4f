"""`explain drivers`: corpus drivers as text, JSON, CSV or a self-contained HTML page, written atomically.

The analysis is `explain.corpus.drivers`; the HTML and text come from `explain.render.drivers_view`. A file is
written to a temporary file in the same folder and moved into place (`os.replace`), so a killed run never leaves
a half-written output, and an existing file is only replaced by a complete one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explain.atomic import write_atomic as write_atomic  # the one atomic writer (the CLI imports it here)
from explain.classifier import Classifier
from explain.corpus.drivers import Drivers, DriversRun, corpus_drivers
from explain.data import Review
from explain.errors import UserError
from explain.progress import Progress
from explain.render.drivers_view import drivers_page, drivers_text
from explain.report_csv import neutralize_cell
from explain.store import ExplanationStore

FORMATS = ("text", "json", "csv", "html")
SUFFIXES = {".txt": "text", ".json": "json", ".csv": "csv", ".html": "html", ".htm": "html"}
CSV_COLUMNS = (
    "group",
    "direction",
    "rank",
    "phrase",
    "effect",
    "ci_low",
    "ci_high",
    "reviews",
    "min_support",
    "example_rows",
    "example",
)


def drivers_json(drivers: Drivers) -> str:
    return json.dumps(drivers.to_dict(), indent=1, ensure_ascii=False)


def drivers_csv(drivers: Drivers) -> str:
    """One row per (group, direction, driver): all reviews first, then each star level (the settings are in
    the JSON and text outputs)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in (drivers.overall, *drivers.by_predicted, *drivers.by_given):
        for direction, items in (("lowering", group.lowering), ("raising", group.raising)):
            for rank, d in enumerate(items, 1):
                row = [
                    group.name,
                    direction,
                    rank,
                    d.phrase,
                    f"{d.effect:.6f}",
                    f"{d.ci[0]:.6f}",
                    f"{d.ci[1]:.6f}",
                    d.reviews,
                    group.min_support,
                    " ".join(str(e.index + 1) for e in d.examples),
                    d.examples[0].text if d.examples else "",
                ]
                writer.writerow([neutralize_cell(c) for c in row])
    return buffer.getvalue()


def render_drivers(drivers: Drivers, fmt: str, title: str = "What lowers and raises the rating") -> str:
    """The drivers in `fmt` (text, json, csv or html)."""
    if fmt == "text":
        return drivers_text(drivers) + "\n"
    if fmt == "json":
        return drivers_json(drivers) + "\n"
    if fmt == "csv":
        return drivers_csv(drivers)
    if fmt == "html":
        return drivers_page(drivers, title)
    raise UserError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def resolve_format(fmt: str | None, output: Path | None) -> str:
    """--format, else the output's suffix (.json, .csv, .html, .txt), else text."""
    if fmt is None:
        return SUFFIXES.get(output.suffix.lower(), "text") if output is not None else "text"
    if fmt.lower() not in FORMATS:
        raise UserError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return fmt.lower()


@dataclass(frozen=True)
class DriversOptions:
    """What `explain drivers` was asked for (everything after reading the reviews and loading the model)."""

    method: str | None = None  # None: amortized when its head exists, else occlusion
    params: tuple[str, ...] = ()  # METHOD.NAME=VALUE
    engine: str = "local"
    address: str | None = None
    actors: int | None = None
    batch_size: int = 4
    cache: Path | None = None  # None: the default cache file
    top_k: int = 20


def run_drivers(
    classifier: Classifier, reviews: Sequence[Review], options: DriversOptions, progress: Progress | None = None
) -> DriversRun:
    """Explain what the cache lacks (resumable), then compute the drivers from the cache."""
    from explain.corpus.drivers import check_method, default_method
    from explain.methods import parse_params

    name = check_method(options.method or default_method(classifier))
    params: dict[str, Any] = parse_params(list(options.params), [name]).get(name, {})
    with ExplanationStore(options.cache) as store:
        return corpus_drivers(
            classifier,
            reviews,
            store,
            method=name,
            params=params,
            engine=options.engine,
            address=options.address,
            actors=options.actors,
            batch_size=options.batch_size,
            progress=progress,
            top_k=options.top_k,
        )
