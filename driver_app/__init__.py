"""EV_Driver: the driver app (core, Kafka runtime, console and Qt client).

Public surface: ``DriverCore``/``DriverListener`` (core.py, no I/O), ``DriverRuntime``/
``DriverConfig`` (runtime.py, Kafka), ``main`` (main.py, the ``EV_Driver`` entry point).
The Qt client lives in ``driver_app.gui`` and is imported only when a window is wanted.
"""
