"""Use cases of the feedback service: small async functions over ports."""
