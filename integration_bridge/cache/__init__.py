"""Storage (memory, Redis), the contact cache and the OAuth token cache."""
