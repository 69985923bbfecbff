"""EV_Central: the control center's core (registry, authorization, live state, billing).

Public surface: :class:`central_app.runtime.CentralRuntime` (implements
``central_app.views.CentralControls``) and the programs ``central_app.main`` (``EV_Central``)
and ``central_app.admin`` (``evc-admin``). The Qt control center lives in ``central_app.gui``.
"""
