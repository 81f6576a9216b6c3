"""The GraphQL side of realtime: event subscriptions (and the Ably token request)."""
