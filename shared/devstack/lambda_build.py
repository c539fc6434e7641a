"""The output of `make build` (`.aws-sam/build`) as Lambda sees it: each function's code and layers.

Used by the checks on the build (tests/build: architecture, glibc, sizes, .pyc), by the cold-start
bench (bench/bench_cold_start.py: a function laid out as ``/var/task`` + ``/opt/python``) and by
``python -m devstack.lambda_build sizes`` (the table in docs/operations.md).

Lambda unpacks a function's layers into ``/opt`` in the order they are listed (a later layer's
file replaces an earlier one's) and puts ``/var/task`` (the function's own code) first on
``sys.path``, then ``/opt/python/lib/python3.12/site-packages``, ``/opt/python``, then the runtime's
own packages (boto3, botocore) under ``/var/runtime``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / ".aws-sam" / "build"
# Lambda's limit on a function's code plus all of its layers, unzipped (250 MB = 262,144,000 bytes).
UNZIPPED_LIMIT = 250 * 1024 * 1024
# The python3.12 runtime is Amazon Linux 2023: glibc 2.34.
RUNTIME_GLIBC = (2, 34)
ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class BuiltFunction:
    """One function of the built template: its code folder and its layers' folders, in load order."""

    logical_id: str
    code_dir: Path
    handler: str
    layers: tuple[tuple[str, Path], ...]

    @property
    def layer_ids(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.layers)


def _layer_refs(value: Any) -> list[str]:
    refs: list[str] = []
    for item in value or []:
        if not (isinstance(item, dict) and "Ref" in item):
            raise ValueError(f"a layer that is not a Ref to this template's layer: {item!r}")
        refs.append(str(item["Ref"]))
    return refs


def built_functions(build_dir: Path = BUILD_DIR) -> list[BuiltFunction]:
    """Every function of ``build_dir/template.yaml`` (SAM appends a function's own layers to the Globals')."""
    template = load_yaml((build_dir / "template.yaml").read_text())
    resources: dict[str, Any] = template["Resources"]
    globals_fn = template.get("Globals", {}).get("Function", {})
    global_layers = _layer_refs(globals_fn.get("Layers"))
    default_handler = str(globals_fn.get("Handler", "app.lambda_handler"))
    layer_dirs = {
        name: build_dir / str(res["Properties"]["ContentUri"])
        for name, res in resources.items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    out: list[BuiltFunction] = []
    for name, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        layers = [*global_layers, *_layer_refs(props.get("Layers"))]
        out.append(
            BuiltFunction(
                logical_id=name,
                code_dir=build_dir / str(props["CodeUri"]),
                handler=str(props.get("Handler", default_handler)),
                layers=tuple((layer, layer_dirs[layer]) for layer in layers),
            )
        )
    return out


def built_layers(build_dir: Path = BUILD_DIR) -> dict[str, Path]:
    template = load_yaml((build_dir / "template.yaml").read_text())
    return {
        name: build_dir / str(res["Properties"]["ContentUri"])
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }


def tree_size(path: Path) -> int:
    """Bytes of the regular files under ``path``: what the folder takes unzipped."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def function_size(fn: BuiltFunction, sizes: dict[Path, int] | None = None) -> int:
    """The function's code plus every layer it loads, unzipped (what Lambda holds to 250 MB)."""
    sizes = {} if sizes is None else sizes
    total = 0
    for path in (fn.code_dir, *(p for _, p in fn.layers)):
        if path not in sizes:
            sizes[path] = tree_size(path)
        total += sizes[path]
    return total


# --------------------------------------------------------------------------- native code


@dataclass(frozen=True)
class ElfInfo:
    path: Path
    machine: str
    needed: tuple[str, ...]
    glibc: tuple[int, ...]  # the highest GLIBC_x.y symbol version it needs; () if none


def elf_files(root: Path) -> list[Path]:
    """Every ELF file under ``root`` (shared objects and any executable), found by its magic number."""
    found: list[Path] = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath, f)
            if p.is_symlink() or not p.is_file():
                continue
            with p.open("rb") as fh:
                if fh.read(4) == ELF_MAGIC:
                    found.append(p)
    return sorted(found)


def elf_info(path: Path) -> ElfInfo:
    """Machine, DT_NEEDED and the highest required GLIBC version, read with binutils' readelf."""
    header = subprocess.run(["readelf", "-h", str(path)], check=True, capture_output=True, text=True).stdout
    machine = re.search(r"Machine:\s+(.+)", header)
    dynamic = subprocess.run(["readelf", "-d", str(path)], check=True, capture_output=True, text=True).stdout
    needed = tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    versions = subprocess.run(["readelf", "-V", "-W", str(path)], check=True, capture_output=True, text=True).stdout
    glibc = max(
        (tuple(int(x) for x in v.split(".")) for v in re.findall(r"\bGLIBC_(\d+(?:\.\d+)+)\b", versions)),
        default=(),
    )
    return ElfInfo(path, machine.group(1).strip() if machine else "?", needed, glibc)


# --------------------------------------------------------------------------- a Lambda-like layout


@dataclass(frozen=True)
class LambdaLayout:
    """A function's code and merged layers in a scratch folder, read-only, as in a Lambda sandbox."""

    task: Path  # plays /var/task
    opt: Path  # plays /opt

    @property
    def sys_path(self) -> list[str]:
        """Lambda's order: the code, then the layers' two python folders (the runtime's own come after)."""
        return [
            str(self.task),
            str(self.opt / "python" / "lib" / "python3.12" / "site-packages"),
            str(self.opt / "python"),
        ]


def _make_read_only(root: Path) -> None:
    for dirpath, dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode & ~0o222)
        for name in dirs:
            Path(dirpath, name).chmod(0o555)
    root.chmod(0o555)


def lay_out(fn: BuiltFunction, dest: Path, *, without_pyc: bool = False) -> LambdaLayout:
    """Copy ``fn``'s code to ``dest/task`` and its layers, merged in order, to ``dest/opt``; no write bits.

    ``without_pyc`` leaves the ``.pyc`` out: what a build that does not precompile would deploy.
    """
    task, opt = dest / "task", dest / "opt"
    ignore = shutil.ignore_patterns("__pycache__") if without_pyc else None
    shutil.copytree(fn.code_dir, task, symlinks=True, ignore=ignore)
    opt.mkdir()
    for _name, layer in fn.layers:
        shutil.copytree(layer, opt, symlinks=True, dirs_exist_ok=True, ignore=ignore)
    _make_read_only(task)
    _make_read_only(opt)
    return LambdaLayout(task, opt)


def remove_layout(dest: Path) -> None:
    """Give the write bits back so the scratch folder can be deleted."""
    for dirpath, dirs, _files in os.walk(dest):
        for name in dirs:
            Path(dirpath, name).chmod(0o755)
    dest.chmod(0o755)
    shutil.rmtree(dest)


# --------------------------------------------------------------------------- the sizes table


def sizes_table(build_dir: Path = BUILD_DIR) -> str:
    """Markdown: each layer's unzipped size, then each function's total against the 250 MB limit."""
    sizes: dict[Path, int] = {}
    layers = built_layers(build_dir)
    lines = ["| layer | unzipped |", "|---|---:|"]
    for name, path in layers.items():
        sizes[path] = tree_size(path)
        lines.append(f"| `{name}` | {sizes[path] / 1e6:.1f} MB |")
    lines += ["", "| function | layers | code | total unzipped (limit 262.1 MB) |", "|---|---|---:|---:|"]
    for fn in built_functions(build_dir):
        total = function_size(fn, sizes)
        layer_names = ", ".join(n.removesuffix("Layer") for n in fn.layer_ids)
        lines.append(
            f"| `{fn.logical_id}` | {layer_names} | {sizes[fn.code_dir] / 1e3:.1f} kB | {total / 1e6:.1f} MB |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["sizes"]:
        print("usage: python -m devstack.lambda_build sizes [BUILD_DIR]", file=sys.stderr)
        return 2
    build_dir = Path(args[1]) if len(args) > 1 else BUILD_DIR
    print(sizes_table(build_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
