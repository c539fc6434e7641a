"""HTTP entry helpers shared by the thin handlers in ``functions/``.

This package must not import :mod:`telemetry.services` at module level (services import the
error map from here).
"""
