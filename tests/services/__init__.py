"""Real services the tests need, one session-scoped fixture module each."""
