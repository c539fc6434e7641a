"""The spec documents' own examples, read verbatim from the copy in tests/contract/spec/.

The copy is checked against ../shared/spec (when present) by test_spec_copy_is_current, so the
contract tests cannot drift from the documents.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SPEC_DIR = Path(__file__).parent / "spec"


def json_blocks(document: str) -> list[Any]:
    """Every ```json fenced block of a spec document, parsed, in order."""
    text = (SPEC_DIR / document).read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, flags=re.S)]


def substitute(value: Any, mapping: dict[str, str]) -> Any:
    """Replace the documents' placeholders (``mdef_<soc>``, ``<thingId>``) with real ids."""
    text = json.dumps(value)
    for placeholder, real in mapping.items():
        text = text.replace(placeholder, real)
    return json.loads(text)
