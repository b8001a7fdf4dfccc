"""Structure of the package, read statically (``ast``; nothing of the package is imported).

The rules of docs/contributing.md "Layers": no import cycle between modules; nothing imports a
higher layer (core <- estimators <- bounds <- verify; bounds/estimators <- gpu_sampler; everything
<- figures <- cli); core, estimators and bounds never import torch; no module over 600 lines;
every module opens with a docstring that says its job.

Every ``import`` statement counts, at module level or inside a function (a lazy import is still a
dependency: it runs in the same process and can close a cycle at call time).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = "smoothcert"
MAX_LINES = 600

#: layer -> the layers its modules may import. ``root`` is the package's ``__init__`` (the public
#: API: theorems and statistics), so importing it costs what importing bounds and estimators costs.
ALLOWED = {
    "core": {"core"},
    "estimators": {"core", "estimators"},
    "bounds": {"core", "estimators", "bounds"},
    "root": {"core", "estimators", "bounds", "root"},
    "verify": {"core", "estimators", "bounds", "root", "verify"},
    "gpu_sampler": {"core", "estimators", "bounds", "root", "gpu_sampler"},
    "figures": {"core", "estimators", "bounds", "root", "verify", "gpu_sampler", "figures"},
    "cli": {"core", "estimators", "bounds", "root", "verify", "gpu_sampler", "figures", "cli", "__main__"},
    "__main__": {"core", "estimators", "bounds", "root", "verify", "gpu_sampler", "figures", "cli", "__main__"},
}
TORCH_FREE = ("core", "estimators", "bounds", "root")
TORCH = ("torch", "torchvision", "torchaudio")


# ---------------------------------------------------------------------------------------------
# the package's modules and their imports
def _walk(directory: Path, prefix: str):
    """(module name, file) for every module of the package under ``directory``: its .py files and
    the subdirectories that are packages (have an ``__init__.py``)."""
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.suffix == ".py":
            yield (prefix if path.stem == "__init__" else f"{prefix}.{path.stem}"), path
        elif path.is_dir() and (path / "__init__.py").is_file() and not path.name.startswith("."):
            yield from _walk(path, f"{prefix}.{path.name}")


@functools.cache
def modules() -> dict[str, Path]:
    return dict(_walk(ROOT, PKG))


@functools.cache
def tree(name: str) -> ast.Module:
    path = modules()[name]
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def _resolve(name: str) -> str | None:
    """The longest prefix of the dotted ``name`` that is a module of the package (None if none)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules():
            return candidate
        parts.pop()
    return None


def _targets(module: str, node) -> list[str]:
    """Dotted names (inside or outside the package) that one import statement loads; a name
    imported from a package counts as its submodule when one exists by that name."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".")
        if not _is_package(module):
            base = base[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    out = []
    for alias in node.names:
        sub = f"{source}.{alias.name}"
        out.append(sub if sub in modules() else source)
    return out


@functools.cache
def imports(module: str) -> tuple[tuple[str, int], ...]:
    """Every (dotted name, line) that ``module`` imports, at any depth of the file."""
    found = []
    for node in ast.walk(tree(module)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.extend((target, node.lineno) for target in _targets(module, node))
    return tuple(found)


@functools.cache
def graph() -> dict[str, dict[str, int]]:
    """module -> {imported module of the package: first line that imports it}."""
    out = {}
    for module in modules():
        edges = {}
        for target, line in imports(module):
            if target == PKG or target.startswith(PKG + "."):
                resolved = _resolve(target)
                if resolved is not None and resolved != module:
                    edges.setdefault(resolved, line)
        out[module] = edges
    return out


def layer(module: str) -> str:
    parts = module.split(".")
    return "root" if len(parts) == 1 else parts[1]


def _where(module: str, line: int) -> str:
    return f"{modules()[module].relative_to(ROOT)}:{line}"


# ---------------------------------------------------------------------------------------------
# cycles: strongly connected components (Tarjan), each reported with one cycle through it
def _components(g: dict[str, dict[str, int]]) -> list[list[str]]:
    index, low, stack, on_stack, comps = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        work = [(v, iter(sorted(g[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(g[w]))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    comps.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return [c for c in comps if len(c) > 1]


def _cycle_in(comp: list[str], g: dict[str, dict[str, int]]) -> list[str]:
    """One cycle through ``comp[0]`` inside the component (shortest, by breadth-first search)."""
    inside, start = set(comp), comp[0]
    parent = {start: None}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(g[v]):
                if w == start:
                    path = [v]
                    while parent[path[-1]] is not None:
                        path.append(parent[path[-1]])
                    return path[::-1] + [start]
                if w in inside and w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in its component")  # pragma: no cover


def _describe(cycle: list[str], g) -> str:
    hops = [f"{a} -> {b} ({_where(a, g[a][b])})" for a, b in zip(cycle, cycle[1:])]
    return "; ".join(hops)


# ---------------------------------------------------------------------------------------------
def test_the_walk_finds_the_package():
    """The structural tests below would pass vacuously on an empty walk."""
    names = modules()
    for expected in ("smoothcert", "smoothcert.cli", "smoothcert.core.checks", "smoothcert.bounds.family",
                     "smoothcert.verify.registry", "smoothcert.gpu_sampler.noise"):
        assert expected in names, f"{expected} not found under {ROOT}"
    assert not any(".tests" in n or ".benchmarks" in n for n in names)
    assert sum(len(e) for e in graph().values()) > 50


def test_cycle_finder_reports_a_cycle():
    """The cycle search itself, on a small graph with one cycle and one chain."""
    g = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    comps = _components(g)
    assert comps == [["a", "b", "c"]]
    assert _cycle_in(comps[0], g) == ["a", "b", "c", "a"]


def test_no_import_cycle():
    g = graph()
    cycles = [_describe(_cycle_in(c, g), g) for c in _components(g)]
    assert not cycles, "import cycles between modules of the package:\n" + "\n".join(cycles)


def test_every_module_is_in_a_known_layer():
    unknown = sorted(m for m in modules() if layer(m) not in ALLOWED)
    assert not unknown, f"modules outside the known layers {sorted(ALLOWED)}: {unknown}"


def test_nothing_imports_a_higher_layer():
    bad = []
    for module, edges in graph().items():
        allowed = ALLOWED.get(layer(module), set())
        for target, line in sorted(edges.items()):
            if layer(target) not in allowed:
                bad.append(f"{module} ({layer(module)}) imports {target} ({layer(target)}) at {_where(module, line)}")
    assert not bad, "imports of a higher layer:\n" + "\n".join(bad)


def test_torch_free_layers_never_import_torch():
    bad = []
    for module in modules():
        if layer(module) in TORCH_FREE:
            for target, line in imports(module):
                if target.split(".")[0] in TORCH:
                    bad.append(f"{module} imports {target} at {_where(module, line)}")
    assert not bad, f"{', '.join(TORCH_FREE)} must not import torch:\n" + "\n".join(bad)


def test_no_module_over_600_lines():
    long = {}
    for module, path in modules().items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            long[str(path.relative_to(ROOT))] = n
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def test_every_module_opens_with_a_docstring():
    missing = sorted(str(path.relative_to(ROOT)) for module, path in modules().items()
                     if not (ast.get_docstring(tree(module)) or "").strip())
    assert not missing, f"modules without an opening docstring: {missing}"
