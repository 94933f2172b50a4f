"""BertViz head view and model view that render with no network (Vig 2019, "A Multiscale
Visualization of Attention in the Transformer Model").

BertViz 1.4.1 (`head_view`/`model_view` with `html_action="return"`) emits a `<script src=...>` for
require.js 2.3.6 from a CDN, and a `require.config` whose paths load d3 5.7.0 and jQuery from a CDN.
Here the same markup gets those libraries inlined instead: d3 and jQuery run first (as plain
globals), then require.js, then two named `define`s hand them to BertViz's `requirejs([...])`. The
CDN tag and the CDN paths are removed, so the HTML needs nothing from outside (Streamlit's
`components.html`, a saved report file, a browser offline).

The libraries come from the npm registry, fetched once with `npm pack` by `ensure_assets()` (which
`setup.sh` runs) into the cache folder and checked against pinned SHA-256 digests; no third-party
JavaScript is kept in this repository. jQuery 2.0.0, which BertViz names, was never published to npm;
3.7.1 is used instead (BertViz calls only `$(selector)`, `.append`, `.val`, `.text`, `.on`, `.empty`).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explain.errors import UserError
from explain.paths import cache_dir

BERTVIZ_VERSION = "1.4.1"
MAX_TOKENS = 96  # the views draw one SVG line per token pair, layer and head: 160 tokens froze Chromium for 32 s


class AssetsUnavailableError(UserError):
    """The JavaScript libraries the attention views need are missing and npm could not fetch them."""


@dataclass(frozen=True)
class Asset:
    """One JavaScript file taken from an npm package tarball."""

    package: str
    version: str
    member: str  # path inside the tarball
    filename: str  # name in the assets folder
    sha256: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


# Order matters: d3 and jQuery load before require.js, so they become globals instead of anonymous AMD modules.
ASSETS = (
    Asset(
        "d3",
        "5.7.0",
        "package/dist/d3.min.js",
        "d3.min.js",
        "bdad5585ef9a965ff25458738309b006058c55f2c78d794d25fbecae35014609",
    ),
    Asset(
        "jquery",
        "3.7.1",
        "package/dist/jquery.min.js",
        "jquery.min.js",
        "fc9a93dd241f6b045cbff0481cf4e1901becd0e12fb45166a8f17f95823f0b1a",
    ),
    Asset(
        "requirejs",
        "2.3.6",
        "package/require.js",
        "require.js",
        "9485f0917f97fcf4f63a5ea365200ffd57f123f451382a2f9a1ad2e2fd51ac9b",
    ),
)
_AMD_BRIDGE = (
    'define("d3", [], function () { return window.d3; });\ndefine("jquery", [], function () { return window.jQuery; });'
)
_CDN_SCRIPT = re.compile(r'<script src="https?://[^"]*require(?:\.min)?\.js"></script>')
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{\s*paths:\s*\{[^{}]*\}\s*\}\);")
_SCRIPT_OPEN = '<script type="text/javascript">'
# BertViz fills its params into a trailing comment too (a second copy of all attention data): drop the comment.
_PARAMS_COMMENT = re.compile(r"; // HACK: [^\n]* is a template marker that is replaced by actual params\.")
_PARAMS_LINE = re.compile(r"(const params = )(\{[^\n]*\});")
_JSON_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def assets_dir() -> Path:
    """Where the fetched libraries live: `<cache>/js/bertviz-1.4.1/`."""
    return cache_dir() / "js" / f"bertviz-{BERTVIZ_VERSION}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assets_present(folder: Path | None = None) -> bool:
    """Are all libraries in `folder` (default `assets_dir()`) with their pinned digests?"""
    folder = folder or assets_dir()
    return all((folder / a.filename).is_file() and _digest(folder / a.filename) == a.sha256 for a in ASSETS)


def ensure_assets(folder: Path | None = None) -> Path:
    """Fetch require.js, d3 and jQuery with `npm pack` unless already there; returns their folder.

    Raises `AssetsUnavailableError` (a `UserError`) when npm is missing or the registry unreachable.
    """
    folder = folder or assets_dir()
    if assets_present(folder):
        return folder
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsUnavailableError(
            "the attention views need require.js, d3 and jQuery from the npm registry, but npm is not installed; "
            "install Node.js with npm (Debian: apt-get install -y npm) and run ./setup.sh again"
        )
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".npm-pack-", dir=folder.parent) as tmp:
        cmd = [npm, "pack", "--silent", "--pack-destination", tmp, *[a.spec for a in ASSETS]]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
            raise AssetsUnavailableError(
                f"npm could not fetch {', '.join(a.spec for a in ASSETS)} (is the npm registry reachable?): {last}"
            )
        for asset in ASSETS:
            tarball = Path(tmp) / f"{asset.package}-{asset.version}.tgz"
            with tarfile.open(tarball) as tar:
                member = tar.extractfile(asset.member)
                if member is None:
                    raise AssetsUnavailableError(f"{asset.spec} has no {asset.member}")
                data = member.read()
            digest = hashlib.sha256(data).hexdigest()
            if digest != asset.sha256:
                raise AssetsUnavailableError(
                    f"{asset.spec}: {asset.member} has SHA-256 {digest}, expected {asset.sha256}; not using it"
                )
            partial = Path(tmp) / asset.filename
            partial.write_bytes(data)
            partial.replace(folder / asset.filename)  # atomic: no half-written library is ever used
    return folder


def _script_safe(js: str) -> str:
    """JavaScript that cannot end its `<script>` element early (`</script` and `<!--` escaped)."""
    return re.sub(r"</(?=script)", r"<\\/", js, flags=re.IGNORECASE).replace("<!--", "<\\!--")


def _library_scripts() -> str:
    folder = ensure_assets()
    parts = [
        f"<script>/* {a.spec} (npm) */\n{_script_safe((folder / a.filename).read_text(encoding='utf-8'))}\n</script>"
        for a in ASSETS
    ]
    parts.append(f"<script>\n{_AMD_BRIDGE}\n</script>")
    return "\n".join(parts)


def offline_html(bertviz_html: str) -> str:
    """BertViz's returned HTML with the CDN script and require paths replaced by inlined libraries."""
    tag = _CDN_SCRIPT.search(bertviz_html)
    start = bertviz_html.find(_SCRIPT_OPEN)
    end = bertviz_html.rfind("</script>")
    if tag is None or start < 0 or end < start:
        raise RuntimeError(
            f"unexpected BertViz output (expected bertviz=={BERTVIZ_VERSION}): no CDN require.js "
            "tag or no visualisation script found"
        )
    markup = bertviz_html[: tag.start()] + bertviz_html[tag.end() : start]
    script, n = _REQUIRE_CONFIG.subn(
        "/* d3 and jquery: inlined above, defined by name */", bertviz_html[start + len(_SCRIPT_OPEN) : end]
    )
    if n != 1:
        raise RuntimeError(f"unexpected BertViz output (expected bertviz=={BERTVIZ_VERSION}): require.config not found")
    script = _PARAMS_COMMENT.sub(";", script, count=1)
    # The params JSON carries the tokens (user text): <, > and & become \u escapes there (as Django's
    # json_script does), so no token can end the <script> element or start markup.
    script, n = _PARAMS_LINE.subn(
        lambda m: m.group(1) + re.sub("[<>&]", lambda c: _JSON_HTML_ESCAPES[c.group()], m.group(2)) + ";",
        script,
        count=1,
    )
    if n != 1:
        raise RuntimeError(f"unexpected BertViz output (expected bertviz=={BERTVIZ_VERSION}): no params line")
    return f"{_library_scripts()}\n{markup}{_SCRIPT_OPEN}{_script_safe(script)}</script>\n"


def _as_layers(attentions: np.ndarray, decimals: int):
    """(layers, heads, seq, seq) numpy -> BertViz's list of (1, heads, seq, seq) tensors, rounded to shrink the page."""
    import torch

    attentions = np.asarray(attentions, dtype=np.float64)
    if attentions.ndim != 4 or attentions.shape[2] != attentions.shape[3]:
        raise ValueError(f"attentions must be (layers, heads, seq, seq), got shape {attentions.shape}")
    rounded = np.round(attentions, decimals)
    return [torch.from_numpy(rounded[i][None]) for i in range(rounded.shape[0])]


def _check_size(tokens: Sequence[str], attentions: np.ndarray) -> None:
    if len(tokens) != np.shape(attentions)[-1]:
        raise ValueError(f"{len(tokens)} tokens but attention over {np.shape(attentions)[-1]} positions")
    if len(tokens) > MAX_TOKENS:
        raise UserError(
            f"the review has {len(tokens)} tokens; the attention views show at most {MAX_TOKENS} "
            "(their page embeds every layer's and head's full attention matrix): shorten the review"
        )


def head_view_html(
    tokens: Sequence[str],
    attentions: np.ndarray,
    *,
    layers: Sequence[int] | None = None,
    layer: int | None = None,
    decimals: int = 4,
) -> str:
    """BertViz head view (one layer's heads, token-to-token lines) as offline, self-contained HTML."""
    from bertviz import head_view

    _check_size(tokens, attentions)
    result = head_view(
        _as_layers(attentions, decimals),
        list(tokens),
        include_layers=_layer_list(layers, attentions),
        layer=layer,
        html_action="return",
    )
    return offline_html(result.data)


def model_view_html(
    tokens: Sequence[str], attentions: np.ndarray, *, layers: Sequence[int] | None = None, decimals: int = 4
) -> str:
    """BertViz model view (a thumbnail per layer and head) as offline, self-contained HTML."""
    from bertviz import model_view

    _check_size(tokens, attentions)
    result = model_view(
        _as_layers(attentions, decimals),
        list(tokens),
        include_layers=_layer_list(layers, attentions),
        html_action="return",
    )
    return offline_html(result.data)


def _layer_list(layers: Sequence[int] | None, attentions: np.ndarray) -> list[int]:
    n = int(np.shape(attentions)[0])
    chosen = list(range(n)) if layers is None else sorted({int(i) for i in layers})
    bad = [i for i in chosen if not 0 <= i < n]
    if bad or not chosen:
        raise UserError(f"layers must be a non-empty choice from 0..{n - 1}, not {bad or 'none'}")
    return chosen


def head_view_height(n_tokens: int) -> int:
    """Pixels the head view needs (BertViz: 22.5 px per token row, plus its controls)."""
    return int(22.5 * n_tokens + 110)


def model_view_height(n_tokens: int, n_layers: int, n_heads: int) -> int:
    """Pixels the model view needs (BertViz: thumbnails of 84/heads px per token row, per layer)."""
    thumbnail = n_tokens * 7 * 12 / max(n_heads, 1) + 10
    detail = n_tokens * 18 + 55
    return int(max(n_layers * thumbnail + 50, detail) + 70)


def attention_inputs(classifier, text: str, window: int = 0) -> tuple[tuple[str, ...], np.ndarray]:
    """What the views draw for one text (for a long text, one of its windows): tokens (as the tokenizer shows
    them), attentions (layers, heads, seq, seq)."""
    from explain.methods.attention import attention_maps  # the one forward pass lives with the attention methods

    maps = attention_maps(classifier, text, window)
    return tuple(maps.tokens), np.asarray(maps.attentions, dtype=np.float64)


@dataclass(frozen=True)
class Passage:
    """A run of consecutive content tokens [start, end) of one window, small enough for the views."""

    window: int
    start: int
    end: int


def passages(window: int, n_tokens: int, size: int = MAX_TOKENS) -> list[Passage]:
    """A window of `n_tokens` tokens (its first and last are special: [CLS] ... [SEP]) cut into passages of at
    most `size` tokens with the two specials, covering every content token once."""
    step = max(1, size - 2)
    return [Passage(window, a, min(a + step, n_tokens - 1)) for a in range(1, n_tokens - 1, step)]


def passage_attention(
    tokens: Sequence[str], attentions: np.ndarray, passage: Passage
) -> tuple[tuple[str, ...], np.ndarray]:
    """The views' input for one passage: its tokens between the window's first and last (special) tokens, and
    the attention among exactly those tokens (attention to the rest of the window is left out, so rows no
    longer sum to 1)."""
    keep = [0, *range(passage.start, passage.end), len(tokens) - 1]
    return tuple(tokens[i] for i in keep), np.asarray(attentions)[:, :, keep][:, :, :, keep]
