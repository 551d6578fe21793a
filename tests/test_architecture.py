"""The shape of the code: imports run one way, and modules stay small.

Three floors: the core (``graftlm.core``) at the bottom, the stages above it, and the ``graft``
root (``graftlm.cli``) on top, which composes the stages and which nothing imports. Build stages
(``rag``, ``tuning``) never import the stages that use them (``advisor``, ``serving``). The
import graph counts every import of a project module, function-level ones included (a deferred
import hides a cycle from Python, not from a reader), and for the root the modules its table of
commands loads when they run. The stages' folders sit at the top of the repository but install
and import as ``graftlm.<stage>``.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_STAGES, USING_STAGES = {"rag", "tuning"}, {"advisor", "serving"}
STAGES = BUILD_STAGES | USING_STAGES
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Installed module name → its file (``advisor/plan.py`` is ``graftlm.advisor.plan``)."""
    found = {}
    for folder in ("graftlm", *sorted(STAGES)):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            found[".".join(parts if folder == "graftlm" else ("graftlm", *parts))] = path
    return found


def stage(name: str) -> str:
    """The stage a module belongs to, ``core`` for the core, ``root`` for the rest."""
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in (*STAGES, "core"):
        return parts[1]
    return "root"


def _owner(name: str, modules) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(node: ast.AST, package: str) -> list[str]:
    """The absolute names an import statement in ``package`` may refer to (none for others)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        up = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join(up + ([base] if base else []))
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def _table_modules(table: dict) -> set[str]:
    """The modules the root's table of lazily loaded commands names."""
    found = set()
    for entry in table.values():
        found |= _table_modules(entry[1]) if len(entry) == 2 else {entry[0]}
    return found


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports; for the root, also the modules its table of
    commands loads."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _targets(node, package):
                owner = _owner(target, modules)
                if owner and owner != name:
                    graph[name].add(owner)
    from graftlm.cli import COMMANDS

    graph["graftlm.cli"] |= _table_modules(COMMANDS)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    order, low, on_stack, stack, found, counter = {}, {}, set(), [], [], 0
    for start in graph:
        if start in order:
            continue
        work = [(start, iter(sorted(graph[start])))]
        order[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in order:
                    order[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], order[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == order[node]:
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


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_build_stages_do_not_import_the_stages_that_use_them():
    wrong = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
                   if stage(a) in BUILD_STAGES and stage(b) in USING_STAGES)
    assert wrong == []


# The settings validate tuning.method against the method registry: the one place the core
# reads a stage. The registry sits below the settings (it imports only the errors and the
# Spectrum scorer), so no cycle can pass through it.
REGISTRY = "graftlm.tuning.methods"


def test_the_core_imports_no_stage():
    leaks = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
                   if stage(a) == "core" and stage(b) in STAGES
                   and (a, b) != ("graftlm.core.tuning_settings", REGISTRY))
    assert leaks == []


def test_nothing_imports_the_root():
    upward = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
                    if stage(b) == "root" and stage(a) != "root")
    assert upward == []


def test_the_method_registry_sits_below_the_settings():
    graph = import_graph()
    below = {name for name in graph if name == REGISTRY or name.startswith(REGISTRY + ".")}
    reads = {b for a in below for b in graph[a]} - below
    assert reads <= {"graftlm.core.errors", "graftlm.tuning.spectrum"}
    assert graph["graftlm.tuning.spectrum"] == set()


def test_stages_are_imported_under_graftlm_only():
    """A top-level ``advisor``, ``rag`` or ``tuning`` would clash with PyPI's packages of those
    names: the wheel has none, so an import of one works in the repository and fails installed."""
    bare = []
    for folder in ("graftlm", *sorted(STAGES), "tests", "benchmarks", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if getattr(node, "level", 0):
                    continue  # a relative import stays inside its package
                bare += [f"{path.relative_to(ROOT)}: {n}" for n in _targets(node, "")
                         if n.split(".")[0] in STAGES]
    assert bare == []


def test_the_stage_of_a_module():
    assert [stage(n) for n in ("graftlm.rag.index", "graftlm.core.settings", "graftlm.serving",
                               "graftlm.cli")] == ["rag", "core", "serving", "root"]


def test_shared_command_helpers_are_a_leaf():
    assert import_graph()["graftlm.core.commands"] <= {
        "graftlm.core.settings", "graftlm.core.workspace", "graftlm.core.errors",
        "graftlm.core.invocation"}


def test_every_package_is_in_the_wheel():
    """setuptools is given the packages by name: a new folder left out of that list works in
    the repository (an editable install finds it) and is missing from the wheel."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    found = {name for name, path in _modules().items() if path.name == "__init__.py"}
    assert found == listed


def test_modules_stay_small():
    big = {name: n for name, path in _modules().items()
           if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert big == {}


def test_the_projects_own_imports_stand_at_the_top_of_each_module():
    """Start-up stays light by importing heavy third-party libraries where they are used; the
    project's own modules are imported at the top, where a reader sees what a module uses."""
    hidden, modules = [], _modules()
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                hidden += [f"{name}:{inner.lineno}" for inner in ast.walk(node)
                           if isinstance(inner, (ast.Import, ast.ImportFrom))
                           and any(_owner(t, modules) for t in _targets(inner, package))]
    assert hidden == []
