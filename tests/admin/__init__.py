"""Admin CLI tests."""
