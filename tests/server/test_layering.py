"""The layers: the job server imports of the package only the wire format and the time helpers."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import prefect_ibmq

PACKAGE = Path(prefect_ibmq.__file__).parent
#: What the server may import of the package outside itself (DESIGN: "the server imports nothing above it").
SERVER_MAY_IMPORT = {"prefect_ibmq.wire", "prefect_ibmq.timestamps"}


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                names.add(f"{base}.{node.module}" if node.module else base)
            else:
                names.add(node.module or "")
    return names


def test_the_server_imports_only_wire_and_timestamps_of_the_package():
    server_files = sorted((PACKAGE / "server").rglob("*.py"))
    assert len(server_files) > 20  # the walk found the server
    outside = {
        (str(path.relative_to(PACKAGE)), name)
        for path in server_files
        for name in _imports(path)
        if name.startswith("prefect_ibmq.") and not name.startswith("prefect_ibmq.server")
        and name not in SERVER_MAY_IMPORT
    }
    assert outside == set()


def test_the_server_reaches_the_wire_and_timestamps_through_those_names():
    # The walk resolves what the server does import (else the test above would pass vacuously).
    used = {name for path in (PACKAGE / "server").rglob("*.py") for name in _imports(path)}
    assert SERVER_MAY_IMPORT <= used
    assert "prefect_ibmq.server.store" in used


def test_timestamps_imports_only_the_standard_library():
    names = {name.split(".")[0] for name in _imports(PACKAGE / "timestamps.py")}
    assert names - {"__future__"} <= set(sys.stdlib_module_names)
    assert "datetime" in names


def test_no_module_takes_time_helpers_from_the_store():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("store")
        and {alias.name for alias in node.names} & {"now_iso", "to_iso"}
    ]
    assert offenders == []


def _server_graph() -> dict[str, set[str]]:
    """Server module -> the server modules it imports (under TYPE_CHECKING too), ``from pkg import mod`` as pkg.mod."""
    return _import_graph(PACKAGE / "server")


def _import_graph(folder: Path) -> dict[str, set[str]]:
    """Module under ``folder`` -> the modules under it that it imports (under TYPE_CHECKING too)."""
    paths = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in folder.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    root = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{root}.{base}" if base else root
                for alias in node.names:  # a name that is a module of the package is an edge to it
                    edges.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base)
        graph[module] = {name for name in edges if name in paths and name != module}
    return graph


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for name in graph[todo.pop()] - seen:
            seen.add(name)
            todo.append(name)
    return seen


@pytest.mark.parametrize(("folder", "importer", "imported"), [
    ("server", "prefect_ibmq.server.service", "prefect_ibmq.server.executor"),
    ("", "prefect_ibmq.flows.sweep", "prefect_ibmq.platforms.base"),
])
def test_no_import_cycle_not_even_under_type_checking(folder, importer, imported):
    graph = _import_graph(PACKAGE / folder)
    assert imported in _reach(graph, importer)  # the walk sees edges
    cycles = sorted(module for module in graph if module in _reach(graph, module))
    assert cycles == []


@pytest.mark.parametrize("module", ["executor", "service"])
def test_the_executor_and_the_job_book_know_no_kind_of_job_and_no_runtime_program(module):
    # The kinds are handed in by the app (kinds.server_kinds()), which sits above them all.
    reached = _reach(_server_graph(), f"prefect_ibmq.server.{module}")
    assert "prefect_ibmq.server.kind_handler" in reached  # what it knows of kinds: the protocol
    above = ("prefect_ibmq.server.runtime", "prefect_ibmq.server.kinds")
    known = sorted(name for name in reached if name.startswith(above))
    assert known == ["prefect_ibmq.server.runtime.settings"]  # the runtime API's section of ServerConfig, no program
