"""Use cases of the requests service: small async functions with keyword-only dependencies."""
