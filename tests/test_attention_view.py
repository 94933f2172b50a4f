"""Offline BertViz views: libraries inlined, no CDN, user tokens cannot break out of the script."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest

from explain.errors import UserError
from explain.render import attention_view as av


@pytest.fixture(scope="module")
def assets():
    """The npm libraries (fetched once into the cache; skipped only where npm cannot run at all)."""
    if not av.assets_present() and shutil.which("npm") is None:
        pytest.skip("npm is not installed and the attention view's libraries are not in the cache")
    return av.ensure_assets()


@pytest.fixture(scope="module")
def tiny_maps(tiny_bert):
    return av.attention_inputs(tiny_bert, "I hate very cold, and cloudy winter days")


class Scripts(HTMLParser):
    """The <script> elements of a page as a browser's parser splits them (their text, in order)."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._in = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = False

    def handle_data(self, data):
        if self._in:
            self.scripts[-1] += data


def scripts(html: str) -> list[str]:
    parser = Scripts()
    parser.feed(html)
    return parser.scripts


def fetched_urls(html: str) -> list[str]:
    """Every URL the page would load: script/link/img/iframe sources and require.js paths."""
    urls = re.findall(
        r"""<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, re.IGNORECASE
    )
    urls += re.findall(r"""require\.config\(\{[^)]*?["'](https?://[^"']+)""", html)
    return urls


def test_attention_maps_fit_the_views(tiny_maps):
    tokens, attentions = tiny_maps
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert attentions.shape == (2, 4, len(tokens), len(tokens))
    np.testing.assert_allclose(attentions.sum(-1), 1.0, atol=1e-5)  # rows are attention distributions


@pytest.mark.parametrize("view", [av.head_view_html, av.model_view_html])
def test_views_are_offline_and_inline_the_libraries(assets, tiny_maps, view):
    tokens, attentions = tiny_maps
    html = view(tokens, attentions)
    assert fetched_urls(html) == []
    assert "cdnjs" not in html
    assert not re.search(r"require\.config\(\{\s*paths", html)  # BertViz's CDN paths are gone
    for marker in ("https://d3js.org v5.7.0", "jQuery v3.7.1", "RequireJS 2.3.6"):
        assert html.count(marker) == 1, marker  # each library inlined exactly once
    assert 'define("d3"' in html and 'define("jquery"' in html
    found = scripts(html)
    assert len(found) == 5  # 3 libraries, the AMD bridge, BertViz's own script
    assert "requirejs(['jquery', 'd3']" in found[-1] and 'define("d3"' in found[-2]
    for token in tokens:
        assert json.dumps(token).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") in html
    assert "PYTHON_PARAMS" not in html and html.count('"attn":') == 1  # BertViz's duplicated params comment dropped


def test_tokens_cannot_close_the_script(assets):
    tokens = ["[CLS]", "</script><script>alert(1)</script>", "<!--", "[SEP]"]
    attentions = np.full((1, 2, 4, 4), 0.25)
    html = av.head_view_html(tokens, attentions)
    assert "alert(1)" in html and "<script>alert(1)" not in html and "</script><script>alert" not in html
    found = scripts(html)
    assert len(found) == 5 and "alert(1)" in found[-1]  # the token stays inside BertViz's script, as data
    assert r"\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e" in html
    assert r'"\u003c!--"' in html


def test_layers_and_size_limits(assets, tiny_maps):
    tokens, attentions = tiny_maps
    one_layer = av.head_view_html(tokens, attentions, layers=[1])
    assert '"include_layers": [1]' in one_layer
    with pytest.raises(UserError, match="layers"):
        av.head_view_html(tokens, attentions, layers=[5])
    n = av.MAX_TOKENS + 1
    with pytest.raises(UserError, match="at most"):
        av.model_view_html(["x"] * n, np.full((1, 1, n, n), 1.0 / n))
    with pytest.raises(ValueError, match="tokens"):
        av.head_view_html(tokens[:-1], attentions)


def test_unexpected_bertviz_output_is_reported():
    with pytest.raises(RuntimeError, match="bertviz"):
        av.offline_html("<div>no scripts here</div>")


def test_missing_npm_gives_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(av.shutil, "which", lambda name: None)
    with pytest.raises(av.AssetsUnavailableError, match="npm"):
        av.ensure_assets(tmp_path / "assets")


def test_tampered_asset_is_not_used(assets, tmp_path, monkeypatch):
    folder = tmp_path / "assets"
    shutil.copytree(assets, folder)
    assert av.assets_present(folder)
    (folder / "d3.min.js").write_text("window.d3 = 'tampered';")
    assert not av.assets_present(folder)
    monkeypatch.setattr(av.shutil, "which", lambda name: None)  # no refetch possible: it must refuse, not use it
    with pytest.raises(av.AssetsUnavailableError):
        av.ensure_assets(folder)


def test_a_long_review_has_views_per_window_and_part(tiny_bert):
    text = "Great phone, I love it. " * 40 + "Awful support, never again."
    windowed = tiny_bert.windows(text)
    assert windowed is not None and len(windowed.windows) > 1
    last = len(windowed.windows) - 1
    tokens, attentions = av.attention_inputs(tiny_bert, text, last)
    window = windowed.windows[last]
    assert len(tokens) == window.end - window.start + 2 and tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert "never" in tokens  # the last window holds the review's end
    np.testing.assert_allclose(attentions.sum(-1), 1.0, atol=1e-6)
    with pytest.raises(UserError, match="windows: there is no window"):
        av.attention_inputs(tiny_bert, text, last + 1)
    parts = av.passages(last, len(tokens), size=20)
    covered = [i for p in parts for i in range(p.start, p.end)]
    assert covered == list(range(1, len(tokens) - 1))  # every content token once, in order
    for part in parts:
        part_tokens, part_attention = av.passage_attention(tokens, attentions, part)
        assert len(part_tokens) <= 20 and part_tokens[0] == "[CLS]" and part_tokens[-1] == "[SEP]"
        keep = [0, *range(part.start, part.end), len(tokens) - 1]
        np.testing.assert_array_equal(part_attention, attentions[:, :, keep][:, :, :, keep])
    assert len(av.head_view_html(*av.passage_attention(tokens, attentions, parts[-1]))) > 0


def test_a_short_review_has_one_window(tiny_bert):
    with pytest.raises(UserError, match="one piece"):
        av.attention_inputs(tiny_bert, "great phone", 1)
