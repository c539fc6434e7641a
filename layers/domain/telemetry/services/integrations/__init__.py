"""Integrations: connected external systems (Geotab, Zubie, UtilityAPI, generic HTTP) pulled on a
schedule or on a webhook, mapped by an Integrations template onto things (docs/integrations.md)."""
