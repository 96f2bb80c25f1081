"""The package structure holds: imports point one way, no module grows into two concepts.

Static: every `import` and `from ... import` in the first-party packages (module level and
inside functions alike) is read from the source, so a lazy import cannot hide a cycle.
"""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("radiopaque", "generator", "trainer", "benchmarks")
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """First-party modules that `name` imports."""
    found = set()
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import mod` imports the module pkg.mod; `from mod import name` imports mod.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_the_packages():
    assert "generator.run.build" in MODULES and "trainer.train" in MODULES
    assert "generator.run.executor" in GRAPH["generator.run.local"]


def test_no_import_cycle():
    assert _cycles() == []


@pytest.mark.parametrize("low, high", [("generator", "trainer"), ("generator", "benchmarks"),
                                       ("generator", "radiopaque"), ("trainer", "radiopaque"),
                                       ("trainer", "benchmarks"), ("benchmarks", "radiopaque")])
def test_imports_point_one_way(low, high):
    wrong = sorted(f"{m} -> {t}" for m, ts in GRAPH.items() if m.split(".")[0] == low
                   for t in ts if t.split(".")[0] == high)
    assert wrong == []


def test_no_module_over_the_line_limit():
    long = sorted(f"{p.relative_to(REPO)}: {n}" for p in MODULES.values()
                  if p.relative_to(REPO).parts[0] in ("generator", "trainer")
                  and (n := len(p.read_text().splitlines())) > MAX_LINES)
    assert long == []
