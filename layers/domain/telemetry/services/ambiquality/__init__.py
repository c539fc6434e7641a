"""The Ambiquality "sensor measurements" dialect (docs/ambiquality.md): its use cases, composed in
telemetry.bootstrap.ambiquality."""
