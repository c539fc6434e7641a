"""What the SAM CLI itself sees in template.yaml: run by the SAM CLI's python (``.venv-build``).

Not a test module: tests/build/test_sam_local.py runs it as ``.venv-build/bin/python
tests/build/sam_cli_view.py <template> <parameter overrides as JSON>`` (the SAM CLI lives only in
that venv, a python3.12 one, never in the project's) and prints JSON on stdout:

- ``functions``: every function as ``sam local invoke`` resolves it, through SAM's own providers
  (``SamLocalStackProvider`` + ``SamFunctionProvider``, the code ``sam local`` runs): code folder,
  handler, runtime, layers (each with its code folder), environment variable names;
- ``events``: the events ``sam local generate-event`` produces (``samcli.lib.generated_sample_events``,
  its defaults) for the kinds of event the template's functions receive.
"""

from __future__ import annotations

import json
import sys

from samcli.lib.generated_sample_events.events import Events
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

#: `sam local generate-event <service> <type>` for each event kind the template's functions get
GENERATED = {
    "api": ("apigateway", "aws-proxy"),
    "request-authorizer": ("apigateway", "request-authorizer"),
    "sqs": ("sqs", "receive-message"),
    "schedule": ("cloudwatch", "scheduled-event"),
}


def main(template: str, overrides: str) -> None:
    stacks, _ = SamLocalStackProvider.get_stacks(template, parameter_overrides=json.loads(overrides))
    provider = SamFunctionProvider(stacks, ignore_code_extraction_warnings=True)
    functions = [
        {
            "id": f.function_id,
            "codeuri": f.codeuri,
            "handler": f.handler,
            "runtime": f.runtime,
            "architectures": f.architectures,
            "layers": [{"name": layer.name, "codeuri": layer.codeuri} for layer in f.layers],
            "env": sorted(((f.environment or {}).get("Variables") or {}).keys()),
            "events": sorted({str(e.get("Type")) for e in (f.events or {}).values()}),
        }
        for f in provider.get_all()
    ]
    events = Events()
    generated = {}
    for kind, (service, event_type) in GENERATED.items():
        # the CLI's own defaults for each placeholder, as `sam local generate-event` without options
        tags = events.event_mapping[service][event_type]["tags"]
        defaults = {name: spec["default"] for name, spec in tags.items() if "default" in spec}
        generated[kind] = json.loads(events.generate_event(service, event_type, defaults))
    json.dump({"functions": functions, "events": generated}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
