"""Domain models: pydantic v2 for what crosses the API, slotted dataclasses for hot-path values."""
