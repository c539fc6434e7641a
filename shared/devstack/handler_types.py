"""What a handler answers on success, read from its code (for :mod:`devstack.openapi`).

A handler returns ``json_response(<status>, <value>)`` (or ``json_answer``, or
``Response(status_code=...)``). This module finds those calls in the route function's syntax
tree: the integer literals are the success statuses (``201 if ... else 207`` gives both), and the
value's type is followed through the code's own annotations (``container().places.get(...)`` is
``Container.places`` -> ``PlaceService.get`` -> ``Place``). Nothing here names a route: a new
handler written like the others is documented exactly; one it cannot follow gets the method's
default status and an unconstrained schema.
"""

from __future__ import annotations

import ast
import collections.abc
import functools
import importlib
import inspect
import re
import sys
import textwrap
import typing
from dataclasses import dataclass
from types import ModuleType
from typing import Any

_PARAM = re.compile(r"<(\w+)>")  # powertools writes /x/<id> for /x/{id}
_ANSWER_CALLS = {"json_response", "json_answer", "Response"}
#: the success status of a method whose handler the reader cannot follow
DEFAULT_STATUS = {"get": 200, "post": 201, "put": 200, "patch": 200, "delete": 204}


@dataclass(frozen=True)
class Success:
    statuses: tuple[int, ...]
    #: the Python type of the JSON body (None: unknown, or no body as for a 204)
    body_type: Any


def success_of(module: ModuleType, method: str, path: str) -> Success:
    func = _route_function(module, method, path)
    if func is None:
        return Success((DEFAULT_STATUS.get(method, 200),), None)
    statuses: list[int] = []
    body_type: Any = None
    assigned = _assignments(func)
    for call in ast.walk(func):
        if not (isinstance(call, ast.Call) and _name(call.func) in _ANSWER_CALLS):
            continue
        status_node = call.args[0] if call.args else _keyword(call, "status_code")
        statuses.extend(_ints(status_node))
        value = call.args[1] if len(call.args) > 1 else _keyword(call, "body")
        if value is not None and _name(call.func) != "Response":
            body_type = _type_of(value, module, assigned, 0)
    if not statuses:
        statuses = [DEFAULT_STATUS.get(method, 200)]
    return Success(tuple(sorted(set(statuses))), body_type)


def _route_function(module: ModuleType, method: str, path: str) -> ast.FunctionDef | None:
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError):
        return None
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if (
                isinstance(deco, ast.Call)
                and isinstance(deco.func, ast.Attribute)
                and deco.func.attr == method
                and deco.args
                and isinstance(deco.args[0], ast.Constant)
                and _PARAM.sub(r"{\1}", str(deco.args[0].value)) == path
            ):
                return node
    return None


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _ints(node: ast.AST | None) -> list[int]:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _ints(node.body) + _ints(node.orelse)
    return []


def _assignments(func: ast.FunctionDef) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = node.value
    return out


def _type_of(node: ast.expr, module: ModuleType, assigned: dict[str, ast.expr], depth: int) -> Any:
    """The static type of an expression of the handler, or None when it cannot be followed."""
    if depth > 12:
        return None
    if isinstance(node, ast.Dict):
        return dict[str, Any]
    if isinstance(node, ast.List):
        return list[Any]
    if isinstance(node, ast.Name):
        if node.id in assigned:
            return _type_of(assigned[node.id], module, {k: v for k, v in assigned.items() if k != node.id}, depth + 1)
        target = getattr(module, node.id, None)
        return target if isinstance(target, type) else None  # a class, e.g. ``Model.model_validate(...)``
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "asdict" and node.args:  # a dataclass, as a dict
            return _type_of(node.args[0], module, assigned, depth + 1)
        if isinstance(func, ast.Name):
            target = getattr(module, func.id, None)
            return _return_type(target) if callable(target) else None
        if isinstance(func, ast.Attribute):
            owner = _type_of(func.value, module, assigned, depth + 1)
            member = _member(owner, func.attr)
            if member is None:  # an attribute annotated ``Callable[..., R]`` (e.g. a bound method kept)
                return _callable_result(_hints(owner).get(func.attr)) if owner is not None else None
            returned = _return_type(member)
            return owner if returned is typing.Self else returned
        return None
    if isinstance(node, ast.Attribute):
        owner = _type_of(node.value, module, assigned, depth + 1)
        member = _member(owner, node.attr)
        if isinstance(member, property) and member.fget is not None:
            return _return_type(member.fget)
        if isinstance(member, functools.cached_property):
            return _return_type(member.func)
        return _hints(owner).get(node.attr) if owner is not None else None
    return None


def _callable_result(hint: Any) -> Any:
    if typing.get_origin(hint) is collections.abc.Callable:
        return typing.get_args(hint)[-1]
    return None


def _member(owner: Any, attr: str) -> Any:
    if not isinstance(owner, type):
        return None
    return inspect.getattr_static(owner, attr, None)


def _return_type(obj: Any) -> Any:
    if isinstance(obj, functools.cached_property):
        obj = obj.func
    if isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    if isinstance(obj, type):
        return obj
    if not inspect.isroutine(obj) and callable(obj):
        obj = type(obj).__call__  # a callable instance (e.g. a cached factory)
    return _hints(obj).get("return")


def _hints(obj: Any) -> dict[str, Any]:
    """``typing.get_type_hints``, also resolving names imported only under ``TYPE_CHECKING``."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    namespace = dict(vars(module)) if module else {}
    namespace.update(_type_checking_names(module))
    try:
        return typing.get_type_hints(obj, globalns=namespace)
    except Exception:
        return {}


@functools.cache
def _type_checking_names(module: ModuleType | None) -> dict[str, Any]:
    if module is None:
        return {}
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(module)))
    except (OSError, TypeError):
        return {}
    names: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    try:
                        source = importlib.import_module(stmt.module)
                    except ImportError:
                        continue
                    for alias in stmt.names:
                        if hasattr(source, alias.name):
                            names[alias.asname or alias.name] = getattr(source, alias.name)
    return names
