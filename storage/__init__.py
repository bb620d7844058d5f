"""Tables, queries and migrations: the only package that writes to the database.

The core annotates sessions with `storage.Session` and configures the state names storage needs
with `storage.StateSets`, so it never imports SQLAlchemy itself.
"""

from storage.engine import Database, Session
from storage.state_sets import StateSets

__all__ = ["Database", "Session", "StateSets"]
