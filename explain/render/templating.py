"""The one jinja2 Environment of the package and the one source of its colours.

Every HTML template lives in `explain/render/templates/*.html.j2` and is rendered by `ENV`, with
autoescaping on (review text, tokens and labels always arrive as text) and undefined names as errors.
`render`, `report` and the evaluation leaderboard all render through `render_template`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from explain.inert import printable

POSITIVE_RGB = (33, 102, 172)  # ColorBrewer RdBu dark blue: pushes toward the explained label
NEGATIVE_RGB = (178, 24, 43)  # RdBu dark red: pushes away from it
MAGNITUDE_RGB = (84, 39, 143)  # ColorBrewer Purples: how much, with no direction (saliency, attention)


def hex_color(rgb: tuple[int, int, int]) -> str:
    """'#rrggbb' for an (r, g, b) triple."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def rgba(rgb: tuple[int, int, int], alpha: float) -> str:
    """CSS 'rgba(r,g,b,a)' with the alpha clipped to 0..1."""
    return "rgba({},{},{},{:.2f})".format(*rgb, min(max(alpha, 0.0), 1.0))


def tint(rgb: tuple[int, int, int], strength: float) -> tuple[int, int, int]:
    """`rgb` mixed with white: strength 0 is white, 1 the colour itself."""
    strength = min(max(strength, 0.0), 1.0)
    return tuple(round(255 + (c - 255) * strength) for c in rgb)  # type: ignore[return-value]


ENV = Environment(
    loader=PackageLoader("explain.render", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=False,
)
ENV.globals.update(
    positive=POSITIVE_RGB,
    negative=NEGATIVE_RGB,
    positive_hex=hex_color(POSITIVE_RGB),
    negative_hex=hex_color(NEGATIVE_RGB),
)


def render_template(name: str, **context: Any) -> str:
    """`templates/<name>` rendered with `context` (autoescaped; a missing name is an error), inert: terminal
    escape sequences, C0/C1 controls and bidi overrides a review carried are removed (`explain.inert`), so
    `cat page.html` cannot drive a terminal and no U+202E reorders the page."""
    return printable(ENV.get_template(name).render(**context))
