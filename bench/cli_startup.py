"""How long `kpi-alerts --help` and `kpi-alerts rules check` take to start and finish.

Target (issue 9): <= 0.3 s each. Floor, measured in the same run: a bare `python -c pass`
(the interpreter and site start-up every command pays). Median of --runs runs each.

    .venv/bin/python bench/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

EXE = str(Path(sys.executable).parent / "kpi-alerts")


def wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    floor = wall([sys.executable, "-c", "pass"], runs)
    print(f"floor: python -c pass            {floor:.3f} s (median of {runs})")
    for args in (["--help"], ["rules", "check"]):
        print(f"kpi-alerts {' '.join(args):<20} {wall([EXE, *args], runs):.3f} s  (target <= 0.300 s)")


if __name__ == "__main__":
    main()
