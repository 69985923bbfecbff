"""The import graph (issue 22): every program's package imports only ``wire``, ``citymap`` and
the charging-point core ``cp_core`` (besides itself, the standard library and third-party
packages), and no module imports itself back, however indirectly.

Read from the source with ``ast``, so every import counts: at the top, inside a function, and
under ``if TYPE_CHECKING:`` (a type-only cycle is still two modules that cannot be understood
one without the other). ``fleet`` and ``chaos`` start the other programs as processes, which
is no import. A ``from package import submodule`` is an import of that submodule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: package -> the project's packages it may import (itself always)
LAYERS: dict[str, frozenset[str]] = {
    "wire": frozenset(),
    "citymap": frozenset({"wire"}),
    "cp_core": frozenset({"wire"}),
    **{
        app: frozenset({"wire", "citymap", "cp_core"})
        for app in ("central_app", "cp_node", "driver_app", "ocpp_gateway", "fleet", "chaos")
    },
}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages above."""
    found: dict[str, Path] = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imported(name: str, path: Path) -> Iterator[str]:
    """The absolute names each import statement of one module refers to."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            for alias in node.names:
                yield f"{origin}.{alias.name}"  # a submodule, or a name of ``origin``


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project's module ``name`` refers to (its longest known prefix), None if foreign."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported in _imported(name, path):
            target = _resolve(imported, modules)
            if target is not None and target != name:
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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


def test_each_package_imports_only_the_layers_below_it() -> None:
    graph = _graph()
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        for target in targets
        if (source := name.split(".")[0]) != (dest := target.split(".")[0])
        and dest not in LAYERS[source]
    )
    assert not wrong, "imports across the layers:\n" + "\n".join(wrong)


def test_no_module_imports_itself_back() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_checks_see_what_they_must() -> None:
    """The graph is not empty, and the cycle finder finds a cycle (of three)."""
    graph = _graph()
    assert "cp_core.command_guard" in graph["cp_node.engine_service"]
    assert "cp_core.command_guard" in graph["ocpp_gateway.kafka_side"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
