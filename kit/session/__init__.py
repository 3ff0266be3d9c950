"""The Session, the one door to an exchange (see :class:`kit.session.core.Session`)."""

from kit.session.core import Session

__all__ = ["Session"]
