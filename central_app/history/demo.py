"""A made-up but plausible history for screenshots, the benchmark and tests (not production).

:func:`seed_history` writes ``sessions`` tickets spread over ``days`` days for the CPs and
drivers given, plus a state-change log with faults, straight into a database (bulk Core
INSERTs: 100,000 tickets in a few seconds). Deterministic for a given ``seed``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import insert

from central_app.db import ChargingPointRow, CpStateChangeRow, Database, SessionRow
from wire.timefmt import format_ts, utc_now

REASONS = ("unplugged", "unplugged", "unplugged", "unplugged", "stopped", "fault", "monitor_lost")


def seed_history(
    db: Database,
    *,
    cps: list[str],
    drivers: list[str],
    sessions: int,
    days: int = 14,
    end: datetime | None = None,
    seed: int = 7,
    prices: dict[str, float] | None = None,
) -> None:
    rng = random.Random(seed)
    end = end or utc_now()
    start = end - timedelta(days=days)
    span = (end - start).total_seconds()
    with db.engine.begin() as conn:
        known = {r[0] for r in conn.execute(ChargingPointRow.__table__.select())}
        new = [
            {"id": c, "location": "", "price": (prices or {}).get(c, 0.35), "admin_state": "ACTIVE"}
            for c in cps
            if c not in known
        ]
        if new:
            conn.execute(insert(ChargingPointRow.__table__), new)
        rows = []
        for i in range(sessions):
            cp = cps[i % len(cps)] if i < len(cps) else rng.choice(cps)
            # busier in the day (UTC 07-21) than at night
            minutes = rng.uniform(5, 90)
            t = start + timedelta(seconds=rng.random() * (span - minutes * 60))
            busy = t.replace(hour=rng.randint(7, 21))
            if (
                not 7 <= t.hour <= 21
                and rng.random() < 0.6
                and busy + timedelta(minutes=minutes) < end
            ):
                t = busy
            kwh = round(
                minutes / 60 * rng.choice((7.4, 11.0, 22.0, 50.0)) * rng.uniform(0.6, 1.0), 3
            )
            price = (prices or {}).get(cp, 0.35)
            rows.append(
                {
                    "session_id": f"seed-{seed}-{i:07d}",
                    "driver_id": rng.choice(drivers),
                    "cp_id": cp,
                    "origin": "app",
                    "price": price,
                    "started_at": format_ts(t),
                    "ended_at": format_ts(t + timedelta(minutes=minutes)),
                    "ticketed_at": format_ts(t + timedelta(minutes=minutes)),
                    "kwh": kwh,
                    "eur": round(kwh * price, 2),
                    "reason": rng.choice(REASONS),
                    "status": "ticketed",
                }
            )
            if len(rows) == 5000:
                conn.execute(insert(SessionRow.__table__), rows)
                rows = []
        if rows:
            conn.execute(insert(SessionRow.__table__), rows)
        changes = []
        for n, cp in enumerate(cps):
            changes.append((start, cp, "ACTIVE", ""))
            # a few incidents per CP over the period, more on every third (CP-03, CP-06, ...)
            count = rng.randint(1, 3) * days // 7 + (2 * days // 7 if n % 3 == 2 else 0)
            moments = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))
            for i, t in enumerate(moments):
                limit = moments[i + 1] if i + 1 < len(moments) else end
                back = min(t + timedelta(minutes=rng.uniform(10, 300)), limit)
                kind = rng.choice(("BROKEN", "BROKEN", "BROKEN", "DISCONNECTED", "STOPPED"))
                reason = rng.choice(("engine KO", "engine unreachable")) if kind == "BROKEN" else ""
                changes.append((t, cp, kind, reason))
                if back < end:
                    changes.append((back, cp, "ACTIVE", ""))
        changes.sort()
        conn.execute(
            insert(CpStateChangeRow.__table__),
            [{"ts": format_ts(t), "cp_id": c, "status": s, "reason": r} for t, c, s, r in changes],
        )
