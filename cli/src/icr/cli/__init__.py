"""The `icr` command: development tokens, platform status, dead letters, the demo organisation
(`icr seed`) and simulated activity (`icr simulate`), all through the platform's public APIs."""
