"""The incentives domain: ledger entries, the points policy, settlement, recognition, rewards.

Imports no framework or driver; the handlers orchestrate, the store does I/O.
"""
