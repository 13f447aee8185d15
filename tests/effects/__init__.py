"""Foundation tests: effects area."""
