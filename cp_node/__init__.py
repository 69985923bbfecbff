"""EVCharging charging point: the engine (EV_CP_E), the monitor (EV_CP_M) and the panel.

Public surface:

- ``cp_node.engine_state`` — the engine's state machine and metering (no I/O).
- ``cp_node.autopilot`` — the plug/unplug policy for unattended runs (no I/O).
- ``cp_node.engine_service`` / ``cp_node.engine_main`` — the engine process.
- ``cp_node.monitor_service`` / ``cp_node.monitor_main`` — the monitor.
- ``cp_node.panel`` — the technician panel (PySide6); ``cp_node.console`` — its ``--no-gui`` twin.

The core it shares with EV_OCPP (monitor state and back-off, command admission, journal,
metering, credentials, enrollment) is ``cp_core``.
"""
