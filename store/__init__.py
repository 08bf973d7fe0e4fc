"""DuckDB schema, migrations and the typed queries the rest of SERA Workbench uses.

No SQL outside this package; no UI imports inside it.
"""

from store.db import (
    SCHEMA_VERSION,
    NotADatabaseError,
    SchemaTooNewError,
    Store,
    StoreError,
    StoreLockedError,
)

__all__ = ["SCHEMA_VERSION", "NotADatabaseError", "SchemaTooNewError", "Store", "StoreError",
           "StoreLockedError"]
