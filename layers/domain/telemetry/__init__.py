"""The telemetry platform's domain layer: models, services (use cases), ports and adapters.

Installed as one package (editable for tests, as a Lambda layer in AWS). Handlers in
``functions/`` stay thin and call into :mod:`telemetry.services` through :mod:`telemetry.http`.
"""
