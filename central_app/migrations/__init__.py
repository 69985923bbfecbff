"""Central's schema migrations (Alembic): one revision per change since the first release.

``central_app.db.open_database`` brings a database to the newest revision when Central starts
(``evc-admin db upgrade`` does it by hand; ``evc-admin db current`` says where one is), and
refuses a database whose revision this version does not know (it was upgraded by a newer
EVCharging). Every revision is idempotent — it adds only what is missing — because databases
made before migrations existed carry no revision: they are taken as the first release's and
upgraded, whatever part of the later columns the old ad-hoc upgrades had added already.

A new change to the models gets a new revision in ``versions/`` (``alembic revision`` with
``script_location`` set to this folder, or by hand like the ones there), using the helpers of
:mod:`central_app.migrations.ops`.
"""
