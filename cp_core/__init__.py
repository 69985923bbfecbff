"""The charging point's core, shared by both CP front-ends: EV_CP_E/EV_CP_M (``cp_node``) and
EV_OCPP (``ocpp_gateway``). Plain Python: no sockets, no Kafka client, no ZeroMQ, no Qt; the
only I/O is the CP's own small files (journal, credentials, passwords), written atomically.

Public surface (import the submodule you need; this package imports nothing itself):

- ``cp_core.monitor_state`` — what a monitor knows and owes Central; reconnection back-off.
- ``cp_core.command_guard`` — which of Central's sealed commands a CP obeys: ``admit`` (open,
  check the replay window, accept), ``ReplayWindow``, ``Refusal``.
- ``cp_core.journal`` — the atomic on-disk journal of the running supply and the replay window.
- ``cp_core.metering`` — energy and money arithmetic, half-up rounding.
- ``cp_core.credentials`` — ``CredentialStore``: a CP's credential, claim and Kafka key on disk.
- ``cp_core.enrollment`` — the operator's one-time enrollment token in REGISTER.
- ``cp_core.passwords`` — OCPP chargers' basic-auth passwords, stored hashed (``evc-admin``
  writes them, EV_OCPP checks them).
- ``cp_core.local_list`` — the drivers' ids OCPP chargers may authorize alone, versioned
  (``evc-admin ocpp local-list`` writes them, EV_OCPP sends them with ``SendLocalList``).

Hashing of credentials and passwords is ``wire.credentials`` (Central uses it too).
"""
