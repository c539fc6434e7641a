"""Ports: what the services need from the outside world, as Protocols.

Adapters in :mod:`telemetry.adapters` implement them (DynamoDB, SQS, Timestream) and in-memory
fakes implement them for unit tests.
"""
