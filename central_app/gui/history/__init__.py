"""The control center's history: sessions, per-CP report, charts and the CP detail.

Views of :mod:`central_app.history` (Qt-free queries). The queries run on the GUI thread on
their own pooled connections, never on Central's owner thread; each is a page, an aggregate
or a period's timeline, a few milliseconds to a few hundred at 100,000 tickets
(docs/performance.md, "History").

Public surface: :class:`HistoryWindow` (Sessions / Per CP / Charts tabs),
:class:`CpDetailDialog`, :class:`SessionsModel`.
"""

from central_app.gui.history.cp_detail import CpDetailDialog
from central_app.gui.history.sessions_model import SessionsModel
from central_app.gui.history.window import HistoryWindow

__all__ = ["CpDetailDialog", "HistoryWindow", "SessionsModel"]
