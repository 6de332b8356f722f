"""Building the named tuples made on every request (messages, parsed bodies, credentials).

`new_record(Cls, (field, ...))` builds one from its fields in order, in C. Calling the class runs the
named tuple's Python-level `__new__` (and packs keyword arguments into a dict first): twice the cost
or more, for objects the request path makes several times per request.
"""

from __future__ import annotations

__all__ = ["new_record"]

new_record = tuple.__new__
