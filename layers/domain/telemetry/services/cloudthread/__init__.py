"""The stream ("cloudthread") dialect: its use cases (composed in telemetry.bootstrap.cloudthread)."""
