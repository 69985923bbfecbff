"""evc-chaos: seeded fault campaigns against a real HA network, and the checker of its books.

Public surface: the program ``chaos.main`` (``evc-chaos``, ``make chaos``); the pure parts
the tests use, ``chaos.schedule`` (``plan``, ``catalogue``) and ``chaos.checker`` (``check``
over a ``chaos.evidence.Evidence``; its money rules in ``chaos.books``, Central's resources
in ``chaos.resources``). The rest runs a campaign: ``components`` (the network of
``scripts/run_network.py`` by name), ``host`` (cgroups, the loopback firewall), ``disks``
(brokers' failing disks), ``faults`` (inject and heal), ``campaign`` (the timed loop),
``collect`` (the evidence), ``report``. docs/reliability.md describes the catalogue and the
invariants.
"""
