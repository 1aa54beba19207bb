"""Use cases: small async functions with keyword-only dependencies."""
