"""GraphQL layer of avatars and avatar sessions."""
