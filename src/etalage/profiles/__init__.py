"""The visitor's profile and where it is kept (embedded store, Redis)."""
