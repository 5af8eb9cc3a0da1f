"""The house rules, held by tests: no import cycles, checks never import each other, the engine knows
no check, renderers read only the report, modules stay small and the top folder stays short.

Imports are read from the source (every `import` and `from ... import`, those inside functions too),
so a cycle hidden in a function body fails here as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "auditor"
MAX_LINES = 400
MAX_TOP_LEVEL_MODULES = 12


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """The package modules `name` imports anywhere in its source (a name imported from a package
    counts as its submodule when there is one)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walker_sees_imports_inside_functions():
    """The walker itself: a module that imports only inside a function still has the edge."""
    assert "auditor.checks" in GRAPH["auditor.audit.runner"] or any(
        m.startswith("auditor.checks") for m in GRAPH["auditor.audit.runner"])
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_no_module_imports_the_public_api():
    """`auditor/__init__` is the facade for users; inside the package, import the module itself."""
    offenders = sorted(name for name, deps in GRAPH.items() if "auditor" in deps and name != "auditor.__main__")
    assert offenders == []


CHECK_MODULES = sorted(n for n in MODULES if n.startswith("auditor.checks."))


@pytest.mark.parametrize("name", CHECK_MODULES)
def test_no_check_module_imports_another(name):
    others = sorted(d for d in GRAPH[name] if d.startswith("auditor.checks"))
    assert others == [], f"{name} imports {others}: move what they share to a module of its own"


ENGINE_MAY_NOT = ("auditor.checks", "auditor.audit", "auditor.render", "auditor.delivery", "auditor.metrics")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("auditor.engine")))
def test_the_engine_knows_no_check(name):
    bad = sorted(d for d in GRAPH[name] if d.startswith(ENGINE_MAY_NOT))
    assert bad == [], f"{name} imports {bad}"


RENDER_MAY = ("auditor.render", "auditor.report", "auditor.version")


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("auditor.render")))
def test_renderers_import_only_the_report_model(name):
    bad = sorted(d for d in GRAPH[name] if not d.startswith(RENDER_MAY))
    assert bad == [], f"{name} imports {bad}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_400_lines(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines; split it by concern"


def test_at_most_12_modules_directly_in_the_package():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py")))
def test_every_folder_says_what_it_is_for_and_may_import(folder):
    doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert len(doc) > 80, f"auditor/{folder}/__init__.py needs a docstring saying what the folder is for"
    assert "import" in doc.lower(), f"auditor/{folder}/__init__.py should say what the folder may import"
