"""Persistence of the requests service: the only package that knows documents and queries."""

from __future__ import annotations

from icr.requests.store import catalog, directory, imports, requests
from icr.requests.store.base import Saved, Versioned
from icr.requests.store.catalog import CatalogStore
from icr.requests.store.directory import DirectoryStore
from icr.requests.store.imports import ImportJournal, JournaledImport
from icr.requests.store.query import Cursor, RequestFilters, RequestQuery, SortKey, decode_cursor
from icr.requests.store.requests import Page, RequestStore

INDEXES = {**directory.INDEXES, **catalog.INDEXES, **requests.INDEXES, **imports.INDEXES}
OUTBOX_COLLECTIONS = [
    directory.DEPARTMENTS,
    directory.PEOPLE,
    catalog.CATALOG_ITEMS,
    requests.REQUESTS,
]

__all__ = [
    "INDEXES",
    "OUTBOX_COLLECTIONS",
    "CatalogStore",
    "Cursor",
    "DirectoryStore",
    "ImportJournal",
    "JournaledImport",
    "Page",
    "RequestFilters",
    "RequestQuery",
    "RequestStore",
    "Saved",
    "SortKey",
    "Versioned",
    "decode_cursor",
]
