"""``evc-fleet``: simulates thousands of CPs (monitors over framed TCP, engines on Kafka) and
their drivers against a real EV_Central and a real broker, and reports what Central did.

* ``fleet.main`` — the command line; ``fleet.scenario`` — one size's phases;
* ``fleet.go_generator`` — the monitors as one Go process (``fleet/gomon``, the default):
  building it and driving it over its stdin/stdout;
* ``fleet.monitors`` / ``fleet.worker`` — the monitors, on uvloop, in worker processes
  (``--generator python``);
* ``fleet.pinning`` — Central on one core, the rest of the benchmark on the other(s);
* ``fleet.kafka_sim`` — engines, drivers and a network-state observer on Kafka;
* ``fleet.central`` — Central as a child process, /proc sampling; ``fleet.broker``;
* ``fleet.security`` — the secured network by default (TLS, sealed values, SASL_SSL
  broker with each process in its role), ``--plain`` without;
* ``fleet.results`` / ``fleet.report`` / ``fleet.chart`` — figures, table, chart.
* ``fleet.soak`` (samples, growth, verdict) / ``fleet.soak_scenario`` (the long steady
  phase) / ``fleet.soak_report`` (soak.json, exit status) / ``fleet.soak_chart`` — the soak.
"""
