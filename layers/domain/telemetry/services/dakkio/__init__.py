"""The bucket data points ("dakkio") dialect: its use cases (composed in telemetry.bootstrap.dakkio)."""
