"""The deployable build (`make build` -> .aws-sam/build) is what Lambda's python3.12 on arm64 can run.

Run by `make build-test` (CI runs `make build` first) and by `make test` when a build exists; skipped,
saying so, when there is none. Takes a few seconds.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

import pytest
from devstack.lambda_build import (
    BUILD_DIR,
    RUNTIME_GLIBC,
    UNZIPPED_LIMIT,
    BuiltFunction,
    built_functions,
    built_layers,
    elf_files,
    elf_info,
    function_size,
)

pytestmark = [
    pytest.mark.build,
    pytest.mark.skipif(
        not (BUILD_DIR / "template.yaml").is_file(),
        reason=f"no build output in {BUILD_DIR}: run `make build` (then `make build-test`)",
    ),
    pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils) is not installed"),
]

# What the python3.12 runtime image itself provides beyond glibc, so a native library may need it.
RUNTIME_LIBS = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libgcc_s.so.1",
    "ld-linux-aarch64.so.1",
}
# Packages of the runtime itself (/var/runtime): a layer must not ship them again.
RUNTIME_PACKAGES = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
# The functions that compile (create, update) or run (test, apply) a JavaScript template.
JAVASCRIPT_FUNCTIONS = {
    "TmplCreateFunction",
    "TmplUpdateFunction",
    "TmplTestFunction",
    "TmplApplyFunction",
    "TmplTransactionsApplyFunction",
}


@pytest.fixture(scope="module")
def functions() -> list[BuiltFunction]:
    return built_functions()


def test_every_native_library_is_aarch64_and_needs_at_most_the_runtimes_glibc() -> None:
    # Given every ELF file in the build
    elves = elf_files(BUILD_DIR)
    assert elves, "the build has no native code at all: pydantic-core, orjson and mini-racer should be there"
    bad: list[str] = []
    for path in elves:
        # When its header, dynamic section and version needs are read
        info = elf_info(path)
        rel = path.relative_to(BUILD_DIR)
        # Then it is for arm64, needs no newer glibc than Amazon Linux 2023's, and no library the runtime lacks
        if info.machine != "AArch64":
            bad.append(f"{rel}: machine {info.machine}")
        if info.glibc > RUNTIME_GLIBC:
            bad.append(f"{rel}: needs GLIBC_{'.'.join(map(str, info.glibc))}")
        bundled = {p.name for p in path.parent.parent.rglob("*.so*")}
        missing = [lib for lib in info.needed if lib not in RUNTIME_LIBS and lib not in bundled]
        if missing:
            bad.append(f"{rel}: needs {missing}")
    assert not bad, "\n".join(bad)


def test_every_function_with_its_layers_is_below_lambdas_unzipped_limit(functions: list[BuiltFunction]) -> None:
    sizes: dict[Path, int] = {}
    over = {fn.logical_id: function_size(fn, sizes) for fn in functions if function_size(fn, sizes) >= UNZIPPED_LIMIT}
    assert not over, over


def test_every_python_module_ships_an_unchecked_hash_pyc() -> None:
    # Lambda's /var/task and /opt are read-only: a module without its .pyc is compiled on every cold start
    missing: list[str] = []
    for source in BUILD_DIR.rglob("*.py"):
        if source.parent == BUILD_DIR:
            continue
        pyc = Path(importlib.util.cache_from_source(str(source)))
        pyc = pyc.with_name(re.sub(r"cpython-\d+", "cpython-312", pyc.name))
        if not pyc.is_file():
            missing.append(str(source.relative_to(BUILD_DIR)))
            continue
        flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
        if flags != 0b01:  # hash-based, check_source off (PEP 552)
            missing.append(f"{source.relative_to(BUILD_DIR)} (flags {flags:#b})")
    assert not missing, f"{len(missing)} modules without an unchecked-hash .pyc, e.g. {missing[:5]}"


def test_no_layer_ships_what_the_runtime_has() -> None:
    for name, path in built_layers().items():
        shipped = {p.name.split("-")[0] for p in (path / "python").iterdir()} if (path / "python").is_dir() else set()
        assert not (shipped & RUNTIME_PACKAGES), f"{name} ships {shipped & RUNTIME_PACKAGES}"


def test_the_layers_dependencies_are_all_in_a_layer_or_the_runtime() -> None:
    # A package pruned from the layer (botocore's family) must really be the runtime's, nothing else
    from importlib import metadata

    from packaging.requirements import Requirement

    paths = [str(p / "python") for p in built_layers().values()]
    dists = list(metadata.distributions(path=paths))
    have = {_norm(d.metadata["Name"]) for d in dists}
    env = {"python_version": "3.12", "sys_platform": "linux", "platform_machine": "aarch64", "extra": ""}
    unmet = {
        f"{d.metadata['Name']} needs {r}"
        for d in dists
        for r in d.requires or []
        if (req := Requirement(r)).marker is None or req.marker.evaluate(env)
        if _norm(req.name) not in have
        and _norm(req.name) not in {_norm(p) for p in RUNTIME_PACKAGES | {"python-dateutil"}}
    }
    assert not unmet, unmet


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_only_the_functions_that_compile_or_run_javascript_load_the_javascript_layer(
    functions: list[BuiltFunction],
) -> None:
    with_js = {fn.logical_id for fn in functions if "JavaScriptLayer" in fn.layer_ids}
    assert with_js == JAVASCRIPT_FUNCTIONS
    for fn in functions:
        assert fn.layer_ids[:2] == ("DomainLayer", "DependenciesLayer"), fn.logical_id
    js = built_layers()["JavaScriptLayer"]
    assert (js / "python" / "py_mini_racer").is_dir()
    assert not (built_layers()["DependenciesLayer"] / "python" / "py_mini_racer").exists()
