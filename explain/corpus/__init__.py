"""Corpus runs: explain many reviews with several methods into the store, then summarise the corpus.

`run_corpus` (`explain.corpus.run`) skips what the store already holds and commits every explanation
as soon as it is computed, so a killed run (even SIGKILL) resumes where it stopped with nothing lost
or duplicated. Two engines: `local` (this process) and `ray` (`explain.corpus.ray_engine`: Ray Data
`map_batches` over an actor pool, one model per actor; the driver writes results into the store as
they stream back). `summarize` (`explain.corpus.summary`) aggregates finished explanations:
predicted and given star distributions, a confusion matrix, the words that push reviews toward each
label, and the most confidently wrong reviews.
"""

from explain.corpus.run import ENGINES, BatchInterrupted, BatchOptions, load_results, pending, run_batch, run_corpus
from explain.corpus.spec import MethodSpec, RunStats, method_specs, split_methods, store_key
from explain.corpus.summary import (
    STOPWORDS,
    CorpusSummary,
    WordStat,
    WrongReview,
    content_top_words,
    label_stars,
    stars_surprise,
    summarize,
    word_key,
)

__all__ = [
    "ENGINES",
    "STOPWORDS",
    "BatchInterrupted",
    "BatchOptions",
    "CorpusSummary",
    "MethodSpec",
    "RunStats",
    "WordStat",
    "WrongReview",
    "content_top_words",
    "label_stars",
    "load_results",
    "method_specs",
    "pending",
    "run_batch",
    "run_corpus",
    "split_methods",
    "stars_surprise",
    "store_key",
    "summarize",
    "word_key",
]
