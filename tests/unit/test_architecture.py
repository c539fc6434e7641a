"""The structure rules that import-linter cannot see (docs/architecture.md, "Layers").

import-linter (``make lint``, contracts in pyproject.toml) checks the package ``telemetry``. These
tests hold the rest to the same rules: the handlers in ``functions/`` (not a package), the
environment (read in one module), and what the Lambda layer ships (no module only tests use).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOMAIN = REPO / "layers" / "domain"
PACKAGE = DOMAIN / "telemetry"

#: what a handler may import of ours: the HTTP layer, the root, and the use cases' own types and
#: constants (a body model, a limit); never an adapter, a repository or a port
HANDLER_ALLOWED = (
    "telemetry.coldstart",
    "telemetry.http",
    "telemetry.bootstrap",
    "telemetry.services",
    "telemetry.models",
    "telemetry.limits",
    "telemetry.errors",
)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports, at any depth (function-level imports included)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(DOMAIN).with_suffix("").parts).removesuffix(".__init__")


def test_handlers_import_only_the_http_layer_the_root_and_domain_types() -> None:
    wrong = [
        f"{app.relative_to(REPO)}:{line} imports {name}"
        for app in sorted((REPO / "functions").glob("*/app.py"))
        for line, name in imported_modules(app)
        if name.startswith("telemetry") and not name.startswith(HANDLER_ALLOWED)
    ]
    assert wrong == []


#: compiled extensions a handler may import before telemetry.coldstart (no Python-object churn)
BEFORE_COLDSTART = ("orjson",)


def _cold_start_wrapped(tree: ast.Module) -> bool:
    """``lambda_handler = cold_start(...)`` or ``@cold_start`` as the outermost decorator."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["lambda_handler"]:
            call = node.value
            return isinstance(call, ast.Call) and getattr(call.func, "id", None) == "cold_start"
        if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler":
            return bool(node.decorator_list) and getattr(node.decorator_list[0], "id", None) == "cold_start"
    return False


def cold_start_problems(path: Path) -> list[str]:
    """What keeps ``path`` from running its cold start without the cyclic GC (telemetry/coldstart.py):
    a module outside the standard library imported before ``telemetry.coldstart``, or a handler
    not wrapped in ``cold_start`` (which turns the collector back on after the first invocation)."""
    tree = ast.parse(path.read_text(), str(path))
    problems = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "telemetry.coldstart":
            break
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top != "__future__" and top not in sys.stdlib_module_names and top not in BEFORE_COLDSTART:
                problems.append(f"line {node.lineno}: {name} is imported before telemetry.coldstart")
    else:
        problems.append("does not import telemetry.coldstart")
    if not _cold_start_wrapped(tree):
        problems.append("lambda_handler is not wrapped in cold_start")
    return problems


def test_every_handler_starts_cold_without_the_cyclic_gc() -> None:
    wrong = {
        str(app.relative_to(REPO)): problems
        for app in sorted((REPO / "functions").glob("*/app.py"))
        if (problems := cold_start_problems(app))
    }
    assert wrong == {}


def test_the_cold_start_check_would_catch_a_handler(tmp_path: Path) -> None:
    late = tmp_path / "late.py"
    late.write_text(
        "import json\nfrom aws_lambda_powertools import Logger\nfrom telemetry.coldstart import cold_start\n"
        "def lambda_handler(event, context):\n    return {}\n"
    )
    assert cold_start_problems(late) == [
        "line 2: aws_lambda_powertools is imported before telemetry.coldstart",
        "lambda_handler is not wrapped in cold_start",
    ]
    inner = tmp_path / "inner.py"
    inner.write_text(
        "from telemetry.coldstart import cold_start\n@other\n@cold_start\ndef lambda_handler(event, context):\n"
        "    return {}\n"
    )
    assert cold_start_problems(inner) == ["lambda_handler is not wrapped in cold_start"]
    missing = tmp_path / "missing.py"
    missing.write_text("from x import entrypoint\nlambda_handler = entrypoint(app)\n")
    assert cold_start_problems(missing) == [
        "line 1: x is imported before telemetry.coldstart",
        "does not import telemetry.coldstart",
        "lambda_handler is not wrapped in cold_start",
    ]


def test_handlers_import_no_boto3() -> None:
    wrong = [
        f"{app.relative_to(REPO)}:{line}"
        for app in sorted((REPO / "functions").glob("*/app.py"))
        for line, name in imported_modules(app)
        if name.split(".")[0] in ("boto3", "botocore")
    ]
    assert wrong == []


def _reads_environment(path: Path) -> list[int]:
    """Lines that touch ``os.environ`` / ``os.getenv`` / ``from os import environ``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb")) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(a.name in ("environ", "getenv", "environb") for a in node.names)
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = {
        f"{path.relative_to(REPO)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "settings.py"
        for line in _reads_environment(path)
    }
    handlers = {
        f"{app.relative_to(REPO)}:{line}"
        for app in sorted((REPO / "functions").glob("*/app.py"))
        for line in _reads_environment(app)
    }
    assert readers | handlers == set()


def test_the_environment_check_would_catch_a_reader(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nA = os.environ.get('X')\nfrom os import getenv\n")
    assert _reads_environment(sample) == [2, 3]


def _layer_selection() -> list[Path]:
    """The files the domain layer ships, as SAM packages them: everything under the layer's
    ContentUri (the template's DomainLayer)."""
    template = yaml.load((REPO / "template.yaml").read_text(), Loader=_CfnLoader)
    uris = [
        r["Properties"]["ContentUri"]
        for r in template["Resources"].values()
        if r.get("Type") == "AWS::Serverless::LayerVersion" and "domain" in str(r["Properties"]["ContentUri"])
    ]
    assert uris == ["layers/domain/"], uris
    return sorted(p for p in (REPO / uris[0]).rglob("*.py") if "__pycache__" not in p.parts)


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _reachable_from_handlers() -> set[str]:
    """Modules of ``telemetry`` reachable from any handler, following every import (lazy ones too)."""
    files = {module_name(p): p for p in _layer_selection()}
    todo = [
        name
        for app in (REPO / "functions").glob("*/app.py")
        for _, name in imported_modules(app)
        if name.startswith("telemetry")
    ]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        # "from telemetry.x import y" may name a module y or a symbol y of x: try both
        for candidate in (name, name.rsplit(".", 1)[0]):
            if candidate in files and candidate not in seen:
                seen.add(candidate)
                todo.extend(n for _, n in imported_modules(files[candidate]) if n.startswith("telemetry"))
                parts = candidate.split(".")
                todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run too
                todo.extend(f"{candidate}.{a.name}" for a in _from_imports(files[candidate]))
    return seen


def _from_imports(path: Path) -> Iterator[ast.alias]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from node.names


def test_the_layer_ships_no_module_that_only_tests_use() -> None:
    shipped = {module_name(p) for p in _layer_selection()}
    unused = shipped - _reachable_from_handlers()
    assert unused == set(), "modules in the Lambda layer that no handler reaches (test-only?)"


def test_the_test_fakes_are_not_in_the_layer() -> None:
    names = {p.name for p in _layer_selection()}
    assert not {"items_memory.py", "memory_readings.py"} & names
    assert (REPO / "tests" / "fakes" / "items.py").exists() and (REPO / "tests" / "fakes" / "readings.py").exists()
