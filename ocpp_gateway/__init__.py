"""``EV_OCPP``: real OCPP 1.6J charge points join the network (docs/ocpp.md).

* ``ocpp_gateway.main`` — the command line; ``ocpp_gateway.gateway`` — the WebSocket server;
* ``ocpp_gateway.charge_point`` — the ``ocpp`` library's routing of the charger's messages;
* ``ocpp_gateway.connectors`` — a charger's connectors, each a CP at Central, and the routing
  of its messages to them;
* ``ocpp_gateway.point`` — one charge point's glue; ``ocpp_gateway.station`` — its decisions
  (no I/O); ``ocpp_gateway.mapping`` — OCPP words in EVCharging's terms (no I/O);
* ``ocpp_gateway.central_monitor`` — its monitor towards Central; ``ocpp_gateway.kafka_side`` —
  the engines' Kafka side; ``ocpp_gateway.transactions`` — transactions on disk;
* ``ocpp_gateway.sim`` — a simulated charger.

What it shares with EV_CP_E/EV_CP_M (command admission, replay window, monitor state,
credentials, enrollment, metering, basic-auth passwords) is ``cp_core``.
"""
