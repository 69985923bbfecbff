"""The control center's history: sessions, per-CP report, charts and the CP detail.

Views of :mod:`central_app.history` (Qt-free queries). The queries never run on the GUI
thread: every view asks them through one :class:`~central_app.gui.history.reader.HistoryReader`
(one worker thread, results by signal in the order asked, stale answers dropped), on
connections of their own that give up after 5 s to connect and 15 s a statement
(``History.timed``); the view says "loading…" meanwhile and one line when a query fails.
Each is a page, an aggregate or a period's timeline, a few milliseconds to a few hundred at
100,000 tickets (docs/performance.md, "History").

Public surface: :class:`HistoryWindow` (Sessions / Per CP / Charts tabs),
:class:`CpDetailDialog`, :class:`SessionsModel`.
"""

from central_app.gui.history.cp_detail import CpDetailDialog
from central_app.gui.history.sessions_model import SessionsModel
from central_app.gui.history.window import HistoryWindow

__all__ = ["CpDetailDialog", "HistoryWindow", "SessionsModel"]
