"""The shape of ``ncc_transfer``'s imports.

1. No import cycles: the graph of module-level imports is acyclic. Built with ``ast`` from the source
   (nothing is imported): an edge ``a -> b`` for each ``import`` or ``from ... import`` at module level of
   ``a`` (including inside a module-level ``if``/``try``, but not under ``if TYPE_CHECKING:``), resolved to
   a module of the package (``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else
   to ``pkg``). Imports inside functions are not counted here: they are the accepted way to break a cycle,
   though none should be needed.
2. The runtime never reaches the demo or the simulator (docs/development.md, "Runtime and demo code"):
   over the FULL graph (imports at module level and inside functions and methods, plus the parent
   packages an import runs), no module outside :data:`MAY_USE_DEMO` reaches ``ncc_transfer.demo``,
   ``ncc_transfer.simulator`` or a route's ``connectors/<route>/simulator.py``; the Dagster definitions
   (``ncc_transfer.definitions`` and every module under ``defs/``, which Dagster loads by folder) least of
   all, checked by importing them too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import deque
from pathlib import Path

import ncc_transfer

PACKAGE_DIR = Path(ncc_transfer.__file__).parent


def package_modules(root: Path = PACKAGE_DIR) -> dict[str, Path]:
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _module_level_imports(body: list[ast.stmt]):
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _module_level_imports(block)


def _targets(node: ast.Import | ast.ImportFrom, name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules one import statement of module ``name`` (at ``path``) names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([node.module] if node.module else []))
        targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    found = set()
    for target in targets:
        while target not in modules and "." in target:
            target = target.rpartition(".")[0]
        if target in modules and target != name:
            found.add(target)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in _module_level_imports(ast.parse(path.read_text(encoding="utf-8")).body):
            edges |= _targets(node, name, path, modules)
        graph[name] = edges
    return graph


def _all_imports(node: ast.AST):
    """Every import statement under ``node``, in functions, methods and classes too (not under
    ``if TYPE_CHECKING:``, which never runs)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for stmt in child.orelse:
                yield from ([stmt] if isinstance(stmt, (ast.Import, ast.ImportFrom)) else _all_imports(stmt))
        else:
            yield from _all_imports(child)


def full_import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Every import of each module, wherever it sits, plus the parent packages each import runs
    (importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first)."""
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in _all_imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(node, name, path, modules):
                edges.add(target)
                parent = target.rpartition(".")[0]
                while parent:
                    if parent in modules and parent != name:
                        edges.add(parent)
                    parent = parent.rpartition(".")[0]
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle (as a path a -> ... -> a), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_graph_sees_the_package():
    graph = import_graph(package_modules())
    assert "ncc_transfer.extract" in graph["ncc_transfer.pipeline"]
    assert "ncc_transfer.connectors.incremental" in graph["ncc_transfer.connectors.base"]
    assert "ncc_transfer.connectors.wonde.mapping" in graph["ncc_transfer.connectors.wonde.connector"]


def test_a_cycle_is_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph(package_modules()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# ------------------------------------------------------------------- runtime vs demo and simulator
def is_demo_code(module: str) -> bool:
    """The demo LA generator, the simulated vendors, and each route's simulator profile."""
    return (module.split(".")[:2] in (["ncc_transfer", "demo"], ["ncc_transfer", "simulator"])
            or (module.startswith("ncc_transfer.connectors.") and module.endswith(".simulator")))


# Modules outside the demo code that may import it. Short on purpose: adding one needs a reason here.
MAY_USE_DEMO = {
    # The command line: ``ncc-transfer demo`` builds the demo LA and starts the simulator, ``ncc-transfer
    # simulator`` serves one; only those commands import them (checked below), never ``run`` or ``main``.
    "ncc_transfer.cli",
}
# Not listed because they need no entry: ``summary.py`` (what the demo prints) reads the warehouse only;
# ``connectors/routes.py`` names the simulator profiles but imports one only when demo code asks
# (``simulator_profile``: checked below); ``config.py`` holds what the demo and the runtime share (the
# demo secrets file's name and loader, the simulator port variable).
# The functions of cli.py that may import demo code: the demo and simulator commands and their helpers.
CLI_DEMO_FUNCTIONS = {"_cmd_demo", "_cmd_simulator", "_simulator_port", "_start_simulator"}


def _path_to_demo(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """The shortest import path from ``start`` to a demo module, or None."""
    before: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if is_demo_code(node):
            path = [node]
            while before[path[-1]] is not None:
                path.append(before[path[-1]])
            return path[::-1]
        for nxt in sorted(graph[node]):
            if nxt not in before:
                before[nxt] = node
                queue.append(nxt)
    return None


def test_the_full_graph_sees_imports_inside_functions():
    graph = full_import_graph(package_modules())
    assert "ncc_transfer.demo.generator" in graph["ncc_transfer.cli"]  # imported in _cmd_demo only
    assert "ncc_transfer.demo" in graph["ncc_transfer.cli"]  # the parent package runs first
    assert "ncc_transfer.config" in graph["ncc_transfer.definitions"]  # imported inside defs()
    assert is_demo_code("ncc_transfer.connectors.wonde.simulator") and is_demo_code("ncc_transfer.simulator.core")
    assert not is_demo_code("ncc_transfer.connectors.wonde.connector") and not is_demo_code("ncc_transfer.summary")
    assert _path_to_demo({"a": {"b"}, "b": {"ncc_transfer.demo"}, "ncc_transfer.demo": set()}, "a") == [
        "a", "b", "ncc_transfer.demo"]


def test_no_runtime_module_reaches_the_demo_or_the_simulator():
    graph = full_import_graph(package_modules())
    assert MAY_USE_DEMO <= set(graph)
    reached = {}
    for module in sorted(graph):
        if is_demo_code(module) or module in MAY_USE_DEMO:
            continue
        if path := _path_to_demo(graph, module):
            reached[module] = " -> ".join(path)
    assert not reached, "runtime code reaches demo code:\n" + "\n".join(reached.values())


def test_no_definitions_module_imports_the_demo_or_the_simulator():
    """``ncc_transfer.definitions`` and everything under ``defs/`` (which Dagster loads by folder, so no
    import names it) run in every Dagster process: none of them reaches demo code, even inside a function."""
    modules = package_modules()
    graph = full_import_graph(modules)
    definitions = ["ncc_transfer.definitions"] + [m for m in modules if m.startswith("ncc_transfer.defs.")]
    assert len(definitions) > 10 and not set(definitions) & MAY_USE_DEMO
    for module in definitions:
        assert (path := _path_to_demo(graph, module)) is None, " -> ".join(path)


def test_loading_the_definitions_imports_no_demo_module(tmp_path):
    """The same, by loading the code location in a fresh interpreter (imports by name, ``import_module``,
    included) and listing what it imported."""
    script = (
        "import sys\n"
        "import ncc_transfer.definitions as d\n"
        "d.defs()\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('ncc_transfer'))))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "NCC_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path / "dagster")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300,
                          cwd=PACKAGE_DIR.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = done.stdout.split()
    assert "ncc_transfer.defs.schools.assets" in loaded
    assert not [m for m in loaded if is_demo_code(m)]


def test_cli_imports_demo_code_only_in_the_demo_and_simulator_commands():
    path = package_modules()["ncc_transfer.cli"]
    modules = package_modules()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    users = set()
    for function in tree.body:
        if isinstance(function, ast.FunctionDef):
            if any(is_demo_code(t) for node in _all_imports(function)
                   for t in _targets(node, "ncc_transfer.cli", path, modules)):
                users.add(function.name)
    module_level = [t for node in _module_level_imports(tree.body)
                    for t in _targets(node, "ncc_transfer.cli", path, modules)]
    assert not [t for t in module_level if is_demo_code(t) or _path_to_demo(full_import_graph(modules), t)]
    assert users <= CLI_DEMO_FUNCTIONS, f"cli functions importing demo code: {sorted(users - CLI_DEMO_FUNCTIONS)}"
    assert "_cmd_demo" in users


def test_only_demo_code_loads_a_simulator_profile_by_name():
    """``connectors.routes.simulator_profile`` imports a route's ``simulator.py`` by name (``import_module``),
    which no import statement shows: only demo code (and :data:`MAY_USE_DEMO`) may call it."""
    callers = set()
    for module, path in package_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named = (node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute)
                     else None)
            if named in ("simulator_profile", "simulator_module"):
                callers.add(module)
    callers -= {"ncc_transfer.connectors.routes", "ncc_transfer.connectors.spec"}  # defines it; declares the field
    assert callers, "the scan found no caller at all"
    assert {m for m in callers if not is_demo_code(m) and m not in MAY_USE_DEMO} == set()
