"""The tree reads as the data flow: no import circles between files, no import running up the layers.

Every import counts, also those inside functions and under `if TYPE_CHECKING:` (a reader follows
them just the same). The layers, lowest first:

    schemas, calculator  <  services.common  <  services.ledger
      <  services.gateway, services.sync, services.flows  <  services.web, services.notify
      <  services.assembly, services.runtime, services.cli (composition)

A module may import its own layer and those below. `from pkg.mod import x` is an edge to
`pkg/mod.py` only (not to `pkg/__init__.py`, which Python also runs): otherwise every plugin that
imports its package's `base` would close a circle through the registry in `__init__`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "calculator", "services")

# Longest prefix wins.
LAYERS: dict[str, int] = {
    "schemas": 0,
    "calculator": 0,
    "services.common": 1,
    "services.ledger": 2,
    "services.gateway": 3,
    "services.sync": 3,
    "services.flows": 3,
    "services.notify": 4,  # the owner's messages: the pages' words (web.i18n), read models, a target
    "services.web": 4,
    "services": 5,  # the package itself, services.assembly, services.runtime, services.cli, __main__
}
LAYER_NAMES = {0: "schemas/calculator", 1: "common", 2: "ledger", 3: "gateway/sync/flows", 4: "web/notify",
               5: "composition"}

# Violations that live only in files another stream is rewriting right now (issue #21: the web
# pages and the calculator); issue #22 asks the lead to empty this once that refactor has landed.
# Each entry is (importer, imported) for an upward import, or the sorted files of a circle.
KNOWN_UPWARD: set[tuple[str, str]] = {
}
KNOWN_CIRCLES: set[tuple[str, ...]] = set()


def modules() -> dict[str, Path]:
    """Every module of the checked packages by dotted name (a package by its own name)."""
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that `name` (or a prefix of it) names."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports(module: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in the file, wherever it stands."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, known)
                if target is not None:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
                target = _resolve(f"{base}.{alias.name}", known) if base else None
                if target is None or target == base.rsplit(".", 1)[0]:
                    target = _resolve(base, known)
                if target is not None:
                    yield target, node.lineno


def graph() -> dict[str, dict[str, int]]:
    """Importer -> {imported: first line}, between modules of the checked packages (no self-edges)."""
    known = modules()
    edges: dict[str, dict[str, int]] = {m: {} for m in known}
    for module, path in known.items():
        for target, line in imports(module, path, known):
            if target != module:
                edges[module].setdefault(target, line)
    return edges


def layer(module: str) -> int:
    """The layer of a module: that of its longest listed prefix."""
    parts = module.split(".")
    while parts:
        prefix = ".".join(parts)
        if prefix in LAYERS:
            return LAYERS[prefix]
        parts.pop()
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS in {__file__}")


def circles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _file(module: str) -> str:
    return str(modules()[module].relative_to(ROOT))


def test_no_import_runs_up_the_layers() -> None:
    edges = graph()
    found = {
        (_file(src), _file(dst)): f"{_file(src)}:{line} ({LAYER_NAMES[layer(src)]}) imports {dst} "
                                  f"({LAYER_NAMES[layer(dst)]})"
        for src, targets in edges.items()
        for dst, line in targets.items()
        if layer(dst) > layer(src)
    }
    new = sorted(text for key, text in found.items() if key not in KNOWN_UPWARD)
    assert not new, "imports running up the layers:\n" + "\n".join(new)
    fixed = sorted(KNOWN_UPWARD - found.keys())
    assert not fixed, f"fixed, remove from KNOWN_UPWARD: {fixed}"


def test_no_import_circles_between_files() -> None:
    edges = graph()
    found = {}
    for component in circles(edges):
        members = set(component)
        inside = [f"  {_file(s)}:{line} -> {_file(d)}" for s in component for d, line in edges[s].items()
                  if d in members]
        found[tuple(sorted(_file(m) for m in component))] = "\n".join(inside)
    new = [f"circle of {len(key)} files:\n{text}" for key, text in sorted(found.items()) if key not in KNOWN_CIRCLES]
    assert not new, "import circles:\n" + "\n".join(new)
    fixed = sorted(KNOWN_CIRCLES - found.keys())
    assert not fixed, f"fixed, remove from KNOWN_CIRCLES: {fixed}"


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    """A lazy import hidden in a function is an edge like any other (the circle config.py had)."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("import b\n")
    b.write_text("def f():\n    from a import x\n    return x\n")
    known = {"a": a, "b": b}
    edges = {m: dict(imports(m, p, known)) for m, p in known.items()}
    assert circles(edges) == [["a", "b"]]


def test_kinds_are_registered_not_found_by_scanning_packages() -> None:
    """A reader follows a registry; a `pkgutil` scan of a package hides which modules it loads."""
    scanning = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in modules().values()
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in {"iter_modules", "walk_packages"}
    ]
    assert not scanning, f"package scans: {scanning}"
