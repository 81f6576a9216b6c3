"""GraphQL of outbound webhooks."""
