"""Review datasets: VADER's human-rated sentences (Hutto & Gilbert, ICWSM 2014) and user CSV files.

The ground-truth files ship only in the sdist of `vaderSentiment==3.3.2`, inside
`additional_resources/hutto_ICWSM_2014.tar.gz`; we fetch that sdist with pip (a package registry is
the only network we may assume) and cache the extracted files.
"""

from __future__ import annotations

import csv
import html
import io
import math
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from explain.errors import DataError, DataUnavailableError, InputWarning
from explain.paths import cache_dir
from explain.raters import mean_star_chances, parse_votes, standard_error, stars_from_rating

VADER_SDIST = "vaderSentiment==3.3.2"
CORPORA = {
    "amazon": "amazonReviewSnippets_GroundTruth.txt",
    "tweets": "tweets_GroundTruth.txt",
    "movies": "movieReviewSnippets_GroundTruth.txt",
    "nyt": "nytEditorialSnippets_GroundTruth.txt",
}

# Each rater's own score of each sentence (id, mean, standard deviation, [20 or so integer scores on -4..+4]).
RATER_FILES = {corpus: name.replace("_GroundTruth", "_anonDataRatings") for corpus, name in CORPORA.items()}
# VADER's own lexicon scorer (pure standard library), kept beside the data as the baseline to beat.
LEXICON_FILES = ("vaderSentiment.py", "vader_lexicon.txt", "emoji_utf8_lexicon.txt", "__init__.py")


@dataclass(frozen=True)
class RatedSentence:
    """One human-rated sentence; `group` is the review it belongs to (for grouped splits)."""

    id: str
    corpus: str
    group: str
    position: int
    rating: float
    text: str
    votes: tuple[int, ...] = ()  # each rater's score on -4..+4 (empty when unknown)

    @property
    def stars(self) -> int:
        return stars_from_rating(self.rating)

    @property
    def standard_error(self) -> float:
        """The standard error of the raters' mean (0 when the votes are unknown)."""
        return standard_error(self.votes)

    @property
    def star_chances(self) -> tuple[float, ...]:
        """The soft label: the chance each star level holds the raters' mean (`explain.raters.mean_star_chances`)."""
        return mean_star_chances(self.rating, self.standard_error)


def vader_dir() -> Path:
    """Folder holding the extracted VADER ground-truth files, downloading the sdist once."""
    target = cache_dir() / "data" / "vader-3.3.2"
    wanted = [*CORPORA.values(), *RATER_FILES.values()]
    if all((target / name).exists() for name in wanted) and all(
        (target / "lexicon" / n).exists() for n in LEXICON_FILES
    ):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            tmp,
            VADER_SDIST,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("[vV]ader[sS]entiment-3.3.2.tar.gz"))
        if proc.returncode != 0 or not sdists:
            raise DataUnavailableError(
                f"could not download the {VADER_SDIST} sdist with pip (is a package registry "
                f"reachable?): {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no file'}"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=".vader-", dir=target.parent))
        (partial / "lexicon").mkdir()
        with tarfile.open(sdists[0]) as outer:
            member = next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
            inner_bytes = outer.extractfile(member).read()  # type: ignore[union-attr]
            for m in outer.getmembers():
                if Path(m.name).parent.name == "vaderSentiment" and Path(m.name).name in LEXICON_FILES:
                    (partial / "lexicon" / Path(m.name).name).write_bytes(outer.extractfile(m).read())  # type: ignore[union-attr]
        with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
            for m in inner.getmembers():
                if Path(m.name).name in wanted:
                    (partial / Path(m.name).name).write_bytes(inner.extractfile(m).read())  # type: ignore[union-attr]
        shutil.rmtree(target, ignore_errors=True)  # an older cache without the raters' files
        try:
            partial.rename(target)  # atomic: a killed download leaves no half-filled target
        except OSError:  # a concurrent download finished first
            shutil.rmtree(partial, ignore_errors=True)
    return target


def parse_ground_truth(raw: str, corpus: str) -> list[RatedSentence]:
    """Parse `id<TAB>mean<TAB>text` lines; ids `12_3` are sentence 3 of review 12."""
    out = []
    for line in raw.splitlines():
        parts = line.rstrip("\r").split("\t")
        if len(parts) < 3 or not parts[2].strip():
            continue
        sid, rating, text = parts[0].strip(), float(parts[1]), "\t".join(parts[2:]).strip()
        group, _, pos = sid.partition("_")
        out.append(
            RatedSentence(
                id=sid,
                corpus=corpus,
                group=f"{corpus}:{group}",
                position=int(pos) if pos.isdigit() else 0,
                rating=rating,
                text=html.unescape(text),
            )
        )
    return out


def vader_sentences(corpora: Sequence[str] = ("amazon",)) -> list[RatedSentence]:
    """The human-rated sentences of the named VADER corpora (amazon, tweets, movies, nyt)."""
    unknown = [c for c in corpora if c not in CORPORA]
    if unknown:
        raise DataError(f"unknown VADER corpus {unknown}; choose from {sorted(CORPORA)}")
    folder = vader_dir()
    out: list[RatedSentence] = []
    for corpus in corpora:
        raw = (folder / CORPORA[corpus]).read_text(encoding="utf-8", errors="replace")
        raw_votes = (folder / RATER_FILES[corpus]).read_text(encoding="utf-8-sig", errors="replace")
        votes = parse_votes(raw_votes)
        out.extend(replace(s, votes=votes.get(s.id, ())) for s in parse_ground_truth(raw, corpus))
    return out


def vader_compound(texts: Sequence[str]) -> list[float]:
    """VADER's lexicon-and-rules compound score (-1..+1) of each text, from the same sdist: the baseline to beat."""
    import importlib.util

    path = vader_dir() / "lexicon" / "vaderSentiment.py"
    spec = importlib.util.spec_from_file_location("_vader_lexicon", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    analyzer = module.SentimentIntensityAnalyzer()
    return [analyzer.polarity_scores(t)["compound"] for t in texts]


@dataclass(frozen=True)
class Review:
    """A review from a user's file: its text and, when the file has them, its given stars."""

    text: str
    stars: int | None = None
    label: str | None = None  # the raw value of `label_col`, when asked for


STARS = (1, 5)  # the given stars a review file may hold: whole numbers from 1 to 5


def parse_stars(raw: object) -> tuple[int | None, str | None]:
    """The one reading of a given-stars cell, for reports, training and the dashboard: (stars, None) for a whole
    number from 1 to 5 ("4", "4.0", " 5 "), else (None, why it has none): blank, not a number, not finite, or
    not a whole number of stars from 1 to 5 (-1, 0, 7, 3.5, 1e308). A row with a reason is reported and kept
    without stars."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return None, "blank"
    try:
        value = float(text)
    except ValueError:
        return None, "not a number"
    if not math.isfinite(value):
        return None, "not a finite number"
    if not value.is_integer() or not STARS[0] <= value <= STARS[1]:
        return None, f"not a whole number of stars from {STARS[0]} to {STARS[1]}"
    return int(value), None


def read_text_lines(path: str | Path) -> list[str]:
    """Non-blank lines of a UTF-8 text file, stripped; a clear error for a missing or non-UTF-8 file."""
    path = Path(path)
    check_input_file(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}:{line} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_reviews_csv(
    path: str | Path, text_col: str, stars_col: str | None = None, label_col: str | None = None
) -> list[Review]:
    """Read reviews from a CSV with a header row; clear errors for a missing file, column or repeated column.
    `label_col` is kept as raw text (`Review.label`; rows with an empty label are errors).

    Rows with blank text are skipped and rows whose stars `parse_stars` does not read (blank, not a number,
    not finite, not a whole number from 1 to 5) keep no stars; both are counted in an `InputWarning` (the CLI
    prints it on one line, the dashboard shows it).
    """
    path = Path(path)
    check_input_file(path, "CSV file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            _check_columns(path, columns, [c for c in (text_col, stars_col, label_col) if c])
            rows = list(reader)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text: {exc.reason}") from exc
    except csv.Error as exc:
        raise DataError(f"{path} is not a readable CSV file: {exc}") from exc
    reviews, blank = [], []
    no_stars: dict[str, list[str]] = {}  # why -> "line (value)"
    for lineno, row in enumerate(rows, start=2):
        text = (row.get(text_col) or "").strip()
        if not text:
            blank.append(lineno)
            continue
        stars = None
        if stars_col:
            raw = (row.get(stars_col) or "").strip()
            stars, why = parse_stars(raw)
            if why is not None:
                no_stars.setdefault(why, []).append(f"{lineno} ({raw})" if raw else str(lineno))
        label = None
        if label_col:
            label = (row.get(label_col) or "").strip()
            if not label:
                raise DataError(f"{path}:{lineno}: column {label_col!r} is empty")
        reviews.append(Review(text=text, stars=stars, label=label))
    if not reviews:
        raise DataError(f"{path}: column {text_col!r} has no non-empty text")
    _warn_rows(path, blank, "had blank text and were skipped")
    for why, lines in no_stars.items():
        what = "have no stars" if why == "blank" else f"have stars that are {why}"
        _warn_rows(path, lines, f"{what}; they are kept without stars")
    return reviews


@dataclass(frozen=True)
class ReviewRow:
    """One data row of a review table: every cell as read, its review (None when it has no text) and what
    was wrong with it, if anything."""

    row: int  # data row number (1: the first row under the header)
    cells: dict[str, str]
    review: Review | None
    problem: str | None = None


def csv_header(data: bytes) -> list[str]:
    """The column names of an uploaded CSV; a DataError says what is wrong with the file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV") from exc
    try:
        header = next(csv.reader(io.StringIO(text)), None)
    except csv.Error as exc:
        raise DataError(f"the file is not a readable CSV file: {exc}") from exc
    columns = [c.strip() for c in header or [] if c.strip()]
    if not columns:
        raise DataError("the file has no header row; its first line must name the columns, e.g. text,stars")
    if len(set(columns)) != len(columns):
        raise DataError(f"the header names a column twice: {', '.join(columns)}")
    return columns


def read_review_rows(data: bytes, text_col: str, stars_col: str | None = None) -> tuple[list[str], list[ReviewRow]]:
    """(columns, rows) of an uploaded CSV, keeping every column; a bad row is reported, not fatal.

    A row without text gets no review; a stars value `parse_stars` does not read is dropped from that row
    (it is explained without given stars). The problem says which, with the line number.
    """
    columns = csv_header(data)
    missing = [c for c in (text_col, stars_col) if c and c not in columns]
    if missing:
        raise DataError(f"no column {', '.join(map(repr, missing))}; the file has {', '.join(map(repr, columns))}")
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        raw_rows = [{(k or "").strip(): v for k, v in row.items()} for row in reader]
    except csv.Error as exc:
        raise DataError(f"the file is not a readable CSV file: {exc}") from exc
    rows = []
    for row, raw in enumerate(raw_rows, start=1):
        cells = {c: raw.get(c) or "" for c in columns}
        review_text = cells[text_col].strip()
        if not review_text:
            rows.append(ReviewRow(row, cells, None, f"row {row}: no text in {text_col!r}; skipped"))
            continue
        stars, problem = None, None
        if stars_col:
            value = cells[stars_col].strip()
            stars, why = parse_stars(value)
            if why is not None:
                shown = "no stars value" if why == "blank" else f"stars value {value!r} is {why}"
                problem = f"row {row}: {shown}; explained without given stars"
        rows.append(ReviewRow(row, cells, Review(review_text, stars), problem))
    if not any(r.review for r in rows):
        raise DataError(f"column {text_col!r} has no non-empty text")
    return columns, rows


def check_input_file(path: Path, what: str = "file") -> None:
    """A clear DataError for a path that is not a readable file: no such file, or a folder."""
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a {what}; give the file of reviews")
    if not path.is_file():
        raise DataError(f"no such {what}: {path}")


def _check_columns(path: Path, columns: Sequence[str], wanted: Sequence[str]) -> None:
    repeated = sorted({c for c in columns if columns.count(c) > 1 and c in wanted})
    if repeated:
        raise DataError(f"{path}: the header names column {', '.join(map(repr, repeated))} more than once; rename one")
    missing = [c for c in wanted if c not in columns]
    if missing:
        found = ", ".join(map(repr, columns)) or "no header"
        raise DataError(f"{path}: no column {', '.join(map(repr, missing))}; the file has {found}")


def _warn_rows(path: Path, lines: Sequence[object], what: str) -> None:
    if lines:
        shown = ", ".join(map(str, lines[:5])) + (", ..." if len(lines) > 5 else "")
        warnings.warn(f"{path}: {len(lines)} row(s) {what} (line {shown})", InputWarning, stacklevel=3)
