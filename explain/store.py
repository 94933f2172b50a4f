"""SQLite explanation cache: one row per (model fingerprint, method, parameters, question, text).

The file (default `cache_dir()/explanations.sqlite`) runs in WAL mode with a busy timeout, and every
write is one short `INSERT OR IGNORE` transaction, so several processes can fill the same cache at
once, a killed writer loses at most the row it had not committed, and no key is ever stored twice.
Rows hold `Explanation.to_dict()` as JSON (reports also keep each review's three-stage trace here,
under the method name `_trace`). The model fingerprint hashes the weights, the config and the
tokenizer, so a retrained or different model never reads another model's explanations.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explain.errors import ResourceError, StoreError
from explain.explanation import Explanation
from explain.store_keys import (
    NO_CONTRAST,
    PREDICTED,
    RATING,
    StoreKey,
    canonical_json,
    fingerprint,
    make_key,
    method_params,
    question_code,
    text_hash,
)

__all__ = [  # the keys live in explain.store_keys; these names are re-exported for callers of the store
    "NO_CONTRAST",
    "PREDICTED",
    "RATING",
    "ExplanationStore",
    "StoreKey",
    "cached_explain",
    "canonical_json",
    "fingerprint",
    "make_key",
    "method_params",
    "question_code",
    "text_hash",
]

if TYPE_CHECKING:
    from explain.classifier import Classifier

SCHEMA_VERSION = 1
DEFAULT_FILE = "explanations.sqlite"
SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS explanations (
    model     TEXT    NOT NULL,  -- fingerprint of weights + config + tokenizer
    method    TEXT    NOT NULL,  -- registered (canonical) method name
    params    TEXT    NOT NULL,  -- canonical JSON of the method's parameters, defaults filled in
    target    INTEGER NOT NULL,  -- label index, or -1 for the predicted label
    contrast  INTEGER NOT NULL,  -- label index, or -1 for none
    text_hash TEXT    NOT NULL,  -- sha256 of the UTF-8 text
    payload   TEXT    NOT NULL,  -- Explanation.to_dict() as JSON
    created   REAL    NOT NULL,  -- unix time of the insert
    PRIMARY KEY (model, method, params, target, contrast, text_hash)
) WITHOUT ROWID;
"""


# ---------------------------------------------------------------------------- the store
class ExplanationStore:
    """A SQLite file of explanations, safe for concurrent readers and writers (WAL, short transactions).

    `path=None` is the default file under the user cache dir; `":memory:"` keeps nothing on disk.
    One connection per store object, guarded by a lock so threads (e.g. Streamlit) may share it.
    """

    def __init__(self, path: str | Path | None = None, timeout: float = 60.0):
        if path is None:
            from explain.paths import cache_dir

            path = cache_dir() / DEFAULT_FILE
        self.path = str(path) if str(path) == ":memory:" else str(Path(path).expanduser())
        self.notices: list[str] = []  # what the caller should tell the user (e.g. a damaged cache set aside)
        if self.path != ":memory:":
            _check_folder(Path(self.path).parent, self.path)
            if Path(self.path).exists():
                self._inspect_existing()  # read-only: nothing is written to a file before it is known to be ours
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if self.path != ":memory:":
                mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"{self.path}: could not switch the cache to WAL mode (got {mode!r})")
            self._db.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: commits survive a killed process
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def _inspect_existing(self) -> None:
        """Refuse a file that is not ours, set a damaged cache of ours aside; opens the file read-only."""
        path = Path(self.path)
        try:
            with path.open("rb") as fh:
                header = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(
                f"cannot read the cache {self.path}: {exc.strerror}; point --cache at another file"
            ) from exc
        if not header:
            return  # an empty file: SQLite makes it a new database
        if header != SQLITE_HEADER:
            raise StoreError(
                f"{self.path} is not a usable explanation cache (not a SQLite file); it was left untouched: "
                "point --cache at another file"
            )
        tables: set[str] | None = None  # None: the schema itself cannot be read
        try:
            with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if tables <= {"explanations"} and version in (0, SCHEMA_VERSION):
                    check = db.execute("PRAGMA quick_check").fetchone()[0]
                    if str(check).lower() != "ok":
                        lines = [x for x in str(check).splitlines() if x.strip() and not x.startswith("***")]
                        raise sqlite3.DatabaseError(f"integrity check: {(lines or ['failed'])[0].strip()}")
        except sqlite3.DatabaseError as exc:
            if tables is not None and tables <= {"explanations"}:  # our schema, damaged pages: start afresh
                self._set_aside(str(exc))
                return
            raise StoreError(
                f"{self.path} is a damaged SQLite file of unknown origin ({exc}); it was left untouched: "
                "move it away or point --cache at another file"
            ) from exc
        if tables - {"explanations"}:
            shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise StoreError(
                f"{self.path} is a SQLite file of another program (tables: {shown}), not an explanation cache; "
                "it was left untouched: point --cache at another file"
            )
        if version not in (0, SCHEMA_VERSION):
            raise StoreError(
                f"{self.path} was written by another version of review-explainer "
                f"(schema {version}, this one reads {SCHEMA_VERSION}); point --cache at another file"
            )
        if not os.access(path, os.W_OK):
            raise StoreError(
                f"the cache {self.path} is read-only; make it writable (chmod u+w) or point --cache at another file"
            )

    def _set_aside(self, reason: str) -> None:
        """Rename a damaged cache of ours (and its WAL files) out of the way, and note where it went."""
        aside = f"{self.path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            for suffix in ("-wal", "-shm", ""):
                if Path(self.path + suffix).exists():
                    os.replace(self.path + suffix, aside + suffix)
        except OSError as exc:
            raise StoreError(
                f"the cache {self.path} is damaged ({reason}) and could not be moved aside ({exc.strerror}); "
                "point --cache at another file"
            ) from exc
        notice = f"the cache {self.path} was damaged ({reason}); it was moved to {aside} and a new one started"
        self.notices.append(notice)
        warnings.warn(notice, UserWarning, stacklevel=3)  # the CLI prints it on one line

    def _error(self, exc: sqlite3.DatabaseError) -> StoreError | ResourceError:
        """The one-line user error for a SQLite failure on this cache."""
        message = str(exc)
        if "full" in message or "disk I/O" in message:
            return ResourceError(
                f"could not write the cache {self.path}: {message} (is the disk full?); results committed "
                "before are kept: free space and run the same command again to resume"
            )
        if "readonly" in message or "read-only" in message:
            return StoreError(f"the cache {self.path} is read-only ({message}); point --cache at a writable file")
        if "unable to open" in message:
            return StoreError(f"cannot open the cache {self.path} ({message}); point --cache at a writable file")
        return StoreError(
            f"{self.path} is not a usable explanation cache ({message}); move it away or point --cache at another file"
        )

    def _migrate(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if version not in (0, SCHEMA_VERSION) or (version == 0 and tables - {"explanations"}):
                raise StoreError(
                    f"{self.path} was written by another version of review-explainer "
                    f"(schema {version}, this one reads {SCHEMA_VERSION}); point --cache at another file"
                )
            self._db.execute(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    # ------------------------------------------------------------------ writing
    def put(self, key: StoreKey, explanation: Explanation | Mapping[str, Any]) -> bool:
        """Store one explanation (its own short transaction); False if the key was already there."""
        payload = explanation.to_dict() if isinstance(explanation, Explanation) else dict(explanation)
        return self.put_many([(key, payload)]) == 1

    def put_many(self, items: Iterable[tuple[StoreKey, Explanation | Mapping[str, Any]]]) -> int:
        """Store several explanations in one transaction; returns how many were new."""
        rows = []
        now = time.time()
        for key, explanation in items:
            payload = explanation.to_dict() if isinstance(explanation, Explanation) else dict(explanation)
            rows.append(
                (
                    key.model,
                    key.method,
                    key.params,
                    key.target,
                    key.contrast,
                    key.text_hash,
                    json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
                    now,
                )
            )
        if not rows:
            return 0
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                before = self._db.total_changes
                self._db.executemany("INSERT OR IGNORE INTO explanations VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                added = self._db.total_changes - before
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise self._error(exc) from exc
            except BaseException:
                self._rollback()
                raise
        return added

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does on a full disk)."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._db.execute("ROLLBACK")

    # ------------------------------------------------------------------ reading
    def get(self, key: StoreKey) -> Explanation | None:
        """The stored explanation for `key`, or None."""
        payload = self.get_payload(key)
        return None if payload is None else Explanation.from_dict(payload)

    def get_payload(self, key: StoreKey) -> dict[str, Any] | None:
        """The stored `to_dict()` of `key`, or None."""
        with self._reading():
            row = self._db.execute(
                "SELECT payload FROM explanations WHERE model=? AND method=? AND params=? AND target=? "
                "AND contrast=? AND text_hash=?",
                (key.model, key.method, key.params, key.target, key.contrast, key.text_hash),
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def text_hashes(
        self, model: str, method: str, params: str, target: int = PREDICTED, contrast: int = NO_CONTRAST
    ) -> set[str]:
        """Hashes of the texts already explained under this model, method, parameters and question."""
        with self._reading():
            rows = self._db.execute(
                "SELECT text_hash FROM explanations WHERE model=? AND method=? AND params=? AND target=? "
                "AND contrast=?",
                (model, method, params, target, contrast),
            ).fetchall()
        return {r[0] for r in rows}

    def __contains__(self, key: StoreKey) -> bool:
        with self._reading():
            return (
                self._db.execute(
                    "SELECT 1 FROM explanations WHERE model=? AND method=? AND params=? AND target=? "
                    "AND contrast=? AND text_hash=?",
                    (key.model, key.method, key.params, key.target, key.contrast, key.text_hash),
                ).fetchone()
                is not None
            )

    def __len__(self) -> int:
        with self._reading():
            return int(self._db.execute("SELECT COUNT(*) FROM explanations").fetchone()[0])

    def rows(self, model: str | None = None, method: str | None = None) -> Iterator[tuple[StoreKey, dict[str, Any]]]:
        """Every stored (key, payload), optionally for one model fingerprint and/or method."""
        where, args = [], []
        for column, value in (("model", model), ("method", method)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT model, method, params, target, contrast, text_hash, payload FROM explanations"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._reading():
            fetched = self._db.execute(sql + " ORDER BY created, text_hash", args).fetchall()
        for *key, payload in fetched:
            yield StoreKey(*key), json.loads(payload)

    def integrity(self) -> str:
        """SQLite's own integrity check: "ok" when the file is sound."""
        with self._reading():
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the connection's lock; a SQLite failure becomes this cache's one-line user error."""
        with self._lock:
            try:
                yield
            except sqlite3.DatabaseError as exc:
                raise self._error(exc) from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ExplanationStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ExplanationStore({self.path!r})"


def _check_folder(folder: Path, path: str) -> None:
    """The cache's folder exists and we may create files in it (SQLite needs its WAL files beside the cache)."""
    if not folder.is_dir():
        raise StoreError(f"cannot create the cache {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(
            f"cannot write the cache {path}: folder {folder} is not writable; point --cache at a file in a "
            "writable folder (or set REVIEW_EXPLAINER_CACHE)"
        )


def cached_explain(
    store: ExplanationStore,
    classifier: Classifier,
    text: str,
    method: str,
    target: str | int | None = None,
    contrast: str | int | None = None,
    **params: Any,
) -> Explanation:
    """`explain(...)`, answered from `store` when it holds the result, else computed and stored."""
    from explain.methods import explain

    key = make_key(classifier, text, method, params, target, contrast)
    found = store.get(key)
    if found is not None:
        return found
    result = explain(classifier, text, method=key.method, target=target, contrast=contrast, **params)
    store.put(key, result)
    return result
