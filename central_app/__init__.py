"""EV_Central: the control center's core (registry, authorization, live state, billing).

Public surface: :class:`central_app.runtime.CentralRuntime` (configured by
:class:`central_app.config.CentralConfig`; implements ``central_app.views.CentralControls``
through :class:`central_app.controls.OperatorControls`) and the programs ``central_app.main`` (``EV_Central``)
and ``central_app.admin`` (``evc-admin``). The Qt control center lives in ``central_app.gui``.
"""
