"""botocore's data loader, without its two cold-start costs (docs/performance.md, "Cold start").

Creating the first client costs botocore's stock :class:`~botocore.loaders.Loader` two things a
cold start does not need:

- **A scan of every service.** ``load_service_model`` first lists the *available services*
  (``list_available_services``: a ``listdir`` of each of the ~450 folders of ``botocore/data``
  and a ``stat`` of two candidate files per API version), once for ``service-2`` and once more
  for ``endpoint-rule-set-1``, only to check that the one service asked for is among them.
  :class:`ServiceLoader` asks that service's own folders instead (``list_api_versions``, which
  the stock loader calls next anyway): the same answer, the same ``UnknownServiceError`` (with the
  full list, scanned only then) for a service it does not know.
- **The stdlib JSON parser with ``object_pairs_hook=OrderedDict``.** ``endpoints.json`` alone is
  1.2 MB, about four times slower to parse that way than with orjson. :class:`OrjsonFileLoader`
  parses with orjson into plain dicts (ordered as the file is, like the ``OrderedDict``; botocore
  only reads this data, and ``tests/unit/test_botocore_data.py`` compares what both loaders
  load), and falls back to the stdlib parser for anything orjson refuses (a number beyond
  64 bits, a NaN), so what loads is what botocore would load.

Both are installed through botocore's own extension points: the ``file_loader`` argument of
``Loader`` and the session's ``data_loader`` component (:func:`install`); the search path (the
``AWS_DATA_PATH`` setting, ``~/.aws/models``, botocore's own data) and the extras are botocore's.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
from collections import OrderedDict
from typing import Any

import orjson
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.loaders import ExtrasProcessor, JSONFileLoader, Loader, instance_cache

#: what botocore's JSONFileLoader tries, in its order (models ship as .json.gz since botocore 1.32)
_OPENERS: tuple[tuple[str, Any], ...] = ((".json", open), (".json.gz", gzip.open))


class OrjsonFileLoader(JSONFileLoader):  # type: ignore[misc]
    """``JSONFileLoader.load_file``, parsed by orjson (see the module docstring)."""

    def load_file(self, file_path: str) -> Any:
        for ext, opener in _OPENERS:
            full_path = file_path + ext
            if not os.path.isfile(full_path):
                continue
            with opener(full_path, "rb") as fp:
                payload = fp.read()
            try:
                return orjson.loads(payload)
            except orjson.JSONDecodeError:
                return json.loads(payload.decode("utf-8"), object_pairs_hook=OrderedDict)
        return None


class ServiceLoader(Loader):  # type: ignore[misc]
    """``Loader.load_service_model`` without listing every service first (module docstring)."""

    @instance_cache  # type: ignore[untyped-decorator]
    def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
        try:
            versions = self.list_api_versions(service_name, type_name)
        except DataNotFoundError:
            versions = []
        if not versions:  # the stock loader's answer, the full list included
            raise UnknownServiceError(
                service_name=service_name, known_service_names=", ".join(self.list_available_services(type_name))
            )
        if api_version is None:
            api_version = self.determine_latest_version(service_name, type_name)
        model = self.load_data(os.path.join(service_name, api_version, type_name))
        ExtrasProcessor().process(model, self._extras(service_name, type_name, api_version))
        return model

    def _extras(self, service_name: str, type_name: str, api_version: str) -> list[Any]:
        """The ``<type>.<extras>-extras`` files beside the model, as ``Loader._find_extras`` finds them."""
        found = []
        for extras_type in self.extras_types:
            with contextlib.suppress(DataNotFoundError):
                found.append(
                    self.load_data(os.path.join(service_name, api_version, f"{type_name}.{extras_type}-extras"))
                )
        return found


def create_loader(search_path_string: str | None) -> ServiceLoader:
    """``botocore.loaders.create_loader``: the ``AWS_DATA_PATH`` folders first, then the defaults."""
    paths = None
    if search_path_string is not None:
        paths = [os.path.expanduser(os.path.expandvars(p)) for p in search_path_string.split(os.pathsep)]
    return ServiceLoader(extra_search_paths=paths, file_loader=OrjsonFileLoader())


def install(session: Any) -> None:
    """Make ``session``'s data loader a :class:`ServiceLoader` (lazily, as botocore registers its own)."""
    session.lazy_register_component("data_loader", lambda: create_loader(session.get_config_variable("data_path")))
