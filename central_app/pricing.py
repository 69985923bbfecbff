"""The price a charging point gets when nobody gave it one.

One constant for every place that needs it: a CP registered by its monitor without being
seeded (``--default-price``), a seed file entry without ``price``, a machine built before its
record is known. Changing the default is changing this line.
"""

from __future__ import annotations

DEFAULT_PRICE = 0.35  # EUR/kWh
