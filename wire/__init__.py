"""EVCharging's wire layer: every protocol of ``../shared/PROTOCOL.md``, implemented once.

Import the submodule you need; this package imports nothing itself, so ``import wire`` pulls
in neither zmq nor Kafka:

* ``wire.errors`` — the one exception tree (``WireError`` and children).
* ``wire.framing`` — ``STX DATA ETX LRC`` frames: ``FrameDecoder``, ``encode_frame``, ``lrc``.
* ``wire.fields``, ``wire.tcp_messages``, ``wire.health_messages`` — ``#`` text messages as
  frozen dataclasses with ``REQUESTS``/``RESPONSES``/``HEALTH_*`` codecs.
* ``wire.tcp_server`` — ``FramedServer``/``Connection``: Central's asyncio session side.
* ``wire.tcp_client`` — ``CentralClient``: the monitor's blocking session side.
* ``wire.health`` — ZeroMQ ``HealthResponder`` (engine) and ``LazyPirateClient`` (monitor).
* ``wire.curve`` — the CURVE keys of that link (``CurveKeys``, ``CurveServer``, ``CurveClient``).
* ``wire.kafka`` — topics, partitioner, JSON events, producer/consumer helpers.
* ``wire.pauses`` — ``PauseWatch``: noticing that the process itself stood still (SIGSTOP).
* ``wire.credentials`` — random secrets and their salted hashes (``hash_credential``,
  ``verify_credential``): CP credentials in Central, OCPP passwords in ``cp_core``.
* ``wire.books`` — the money rules over one session row (``check``), shared by Central's
  reconciliation and ``evc-chaos``'s checker.
* ``wire.timefmt``, ``wire.logs`` — timestamps and logging setup.
* ``wire.tally`` — lock-free counting on hot paths (``FastHistogram``, ``Tally``); ``wire.metrics``
  — ``--metrics-port``: Prometheus ``/metrics``, ``/healthz``, ``/readyz`` (docs/operations.md).
* ``wire.display`` — how numbers read on screen: ``count`` ("1 session"), ``axis_ticks``.
* ``wire.qtfollow`` — ``FollowEnd``: a log scrolled to its end stays there (imports Qt).

See ``docs/wire-api.md`` for the signatures.
"""
