"""The driver's PySide6 client: ``run_gui`` (app.py), ``DriverWindow`` (window.py)."""
