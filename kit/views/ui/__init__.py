"""Notebook widgets over a Session: order ticket, blotter, status bar (ipywidgets; only kit.views.ui imports it).

The widgets talk to a :class:`~kit.session.Session` (and its journal), never to ccxt. Charts
are in :mod:`kit.views.charts`.

>>> from kit.session import Session           # doctest: +SKIP
>>> from kit.views import ui                     # doctest: +SKIP
>>> s = Session("localnet")                   # doctest: +SKIP
>>> ui.panel(s)                               # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as _w

from kit.views.ui.blotter import Blotter
from kit.views.ui.preview import Preview, preview
from kit.views.ui.status import StatusBar, status_html
from kit.views.ui.ticket import OrderTicket

if TYPE_CHECKING:
    from kit.session.core import Session

__all__ = ["Blotter", "OrderTicket", "Panel", "Preview", "StatusBar", "link", "panel", "preview", "status_html"]


def link(ticket: OrderTicket, blotter: Blotter, status: StatusBar | None = None) -> None:
    """Wire a ticket, a blotter and a status bar together, as :func:`panel` does.

    An order placed with the ticket refreshes the blotter (and the status bar); an amend or cancel
    in the blotter updates the ticket's line about its last order, so it never says "Order 6 open"
    after 6 was replaced (#17.4).

    >>> ui.link(ticket, blotter, status)           # doctest: +SKIP
    """

    def placed(_order: dict[str, Any]) -> None:
        blotter.refresh()
        if status is not None:
            status.refresh()

    ticket.on_placed(placed)
    blotter.on_change(ticket.order_changed)
    blotter.on_refresh(lambda orders: ticket.open_orders_seen(orders, symbols=blotter.symbols))


def panel(session: Session, symbols: list[str] | None = None, **ticket_kwargs: Any) -> Panel:
    """A status bar, an order ticket and a blotter in one box, wired together.

    A placed order refreshes the blotter and the status bar at once. The parts are attributes of
    the returned box: ``.status``, ``.ticket``, ``.blotter``. Displaying the box starts the live
    updates (as displaying a Blotter or StatusBar does; one nested in your own container needs
    ``.start()``), and ``.close()`` stops them.
    """
    status = StatusBar(session)
    ticket = OrderTicket(session, symbols=symbols, **ticket_kwargs)
    blotter = Blotter(session, symbols=symbols)
    link(ticket, blotter, status)
    # The blotter goes under the ticket when both do not fit side by side: its buttons are never squeezed (#17.4).
    box = Panel(children=[status, _w.HBox([ticket, blotter], layout=_w.Layout(flex_flow="row wrap"))])
    box.status, box.ticket, box.blotter = status, ticket, blotter
    box.add_class("kt-panel")
    return box


class Panel(_w.VBox):
    """What :func:`panel` returns: a box with ``.status``, ``.ticket`` and ``.blotter``."""

    status: StatusBar
    ticket: OrderTicket
    blotter: Blotter

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # Only the outer box is displayed: start the parts' live updates here.
        self.start()
        return super()._repr_mimebundle_(**kwargs)

    def start(self) -> None:
        """Start the status bar's and the blotter's live updates."""
        if self.status.live:
            self.status.start()
        if self.blotter.live:
            self.blotter.start()

    def close(self) -> None:
        """Stop the live updates and close every part."""
        self.status.close()
        self.blotter.close()
        self.ticket.close()
        super().close()
