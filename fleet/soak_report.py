"""The end of ``evc-fleet soak``: the verdict (fleet/soak.py), ``soak.json`` with every
sample, the chart ``soak.png`` beside it, and the exit status (1 when a resource grew by the
bound or more)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleet import soak
from fleet.soak_scenario import SoakScenario


def finish_soak(
    args: argparse.Namespace,
    scenario: SoakScenario,
    document: dict[str, Any],
    run_dir: Path,
    say: Callable[[str], None],
) -> int:
    warmup = soak.warmup_used(args.warmup, args.duration)
    verdict = soak.verdict(scenario.samples, warmup)
    report = {
        "generated": document["generated"],
        "command": document["command"],
        "machine": document["machine"],
        "broker": document.get("broker"),
        "cps": args.cps,
        "duration_s": args.duration,
        "sample_every_s": args.sample_every,
        "warmup_requested_s": args.warmup,
        "verdict": verdict,
        "samples": scenario.samples,
        "scenario": document["scenarios"][-1] if document["scenarios"] else None,
    }
    path = run_dir / "soak.json"
    path.write_text(json.dumps(report, indent=2))
    chart = run_dir / "soak.png"
    try:
        from fleet.soak_chart import draw_soak_chart

        draw_soak_chart(report, chart)
    except (ImportError, OSError, ValueError) as exc:
        say(f"evc-fleet: no soak chart ({exc})")
    else:
        say(f"soak chart: {chart}")
    if warmup < args.warmup:
        say(f"(warm-up {args.warmup:.0f}s scaled down to {warmup:.0f}s: a third of the run)")
    for line in soak.verdict_lines(verdict):
        say(line)
    say(f"soak samples: {path}")
    return 0 if verdict["passed"] else 1
