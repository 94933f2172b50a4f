"""Imports inside `explain/` point down the layer order written in docs/ARCHITECTURE.md, never up."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "explain"
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def layers(text: str | None = None) -> dict[str, int]:
    """Module (or subpackage) name -> layer number, from the numbered list under '## Layers'."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    out: dict[str, int] = {}
    for number, names in re.findall(r"^(\d+)\. (.+)$", section, flags=re.M):
        for name in re.findall(r"`([a-z_]+)`", names):
            assert name not in out, f"{name} is in two layers of {DOC.name}"
            out[name] = int(number)
    return out


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `explain...` import in a file, lazy ones inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "explain":  # `from explain import x`: the facade, or a submodule by name
                found += [(node.lineno, f"explain.{a.name}") for a in node.names]
            elif node.module.startswith("explain."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("explain")]
    return found


def layer_of(module: str, table: dict[str, int]) -> int | None:
    """explain.methods.shap -> the layer of `methods`; explain.x -> the layer of `x`."""
    parts = module.split(".")
    return table.get(parts[1]) if len(parts) > 1 else None


def violations(table: dict[str, int]) -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_name(path)
        if here == "explain":
            continue  # the public facade
        own = layer_of(here, table)
        if own is None:
            problems.append(f"{here} is in no layer of docs/ARCHITECTURE.md: add it to the list")
            continue
        for line, target in imports(path):
            theirs = layer_of(target, table)
            if target == "explain" or (theirs is None and target.split(".")[1] not in table):
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {target}, which is in no layer")
            elif theirs > own:
                problems.append(
                    f"{path.relative_to(ROOT)}:{line} imports {target} (layer {theirs}) from layer {own}: points up"
                )
    return problems


def test_no_import_points_up_the_layers():
    problems = violations(layers())
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_upward_import():
    table = layers()
    table["classifier"], table["default_model"] = table["default_model"], table["classifier"]  # swap two layers
    assert any("explain/default_model.py" in p and "points up" in p for p in violations(table))


def test_layers_are_read_from_the_doc():
    table = layers("## Layers\n\n1. `errors`, `paths`\n2. `cli`\n\n## Next\n3. `nope`\n")
    assert table == {"errors": 1, "paths": 1, "cli": 2}
    assert layers()["classifier"] < layers()["default_model"] < layers()["explanation"] < layers()["render"]
