"""Outbound webhooks: endpoints, signed deliveries of the event store (SPEC §17)."""
