"""Foundation tests: gateway area."""
