"""The web layer and the calculator import without circles, every import counted (also those
inside functions): the page templates are a leaf, the calculator a package that reads downwards."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services/web", "calculator")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    modules = {_module(p): p for p in files}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                # "from services.web import i18n" imports the module services.web.i18n (the
                # package itself only when a name is not a module of it)
                subs = {f"{node.module}.{a.name}" for a in node.names}
                found |= subs if subs <= set(modules) else subs | {node.module}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_circles_in_the_web_layer_and_the_calculator() -> None:
    graph = _graph()
    # a package importing its own submodules (calculator/__init__ re-exporting the model) is
    # not a circle unless a submodule imports the package back; both directions count here
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_page_templates_and_the_calculator_model_import_nothing_above_them() -> None:
    graph = _graph()
    assert graph["services.web.templates"] <= {"services.web.i18n"}
    assert not any(m.startswith("services") for name in graph if name.startswith("calculator") for m in graph[name])
