"""The append-only journal (SQLite, WAL) and the state it reconstructs at any past moment.

>>> from kit.journal import Journal
>>> Journal.__name__
'Journal'
"""

from kit.journal.journal import Journal

__all__ = ["Journal"]
