"""How long a mistake takes to be named, from process start to exit, `--rounds` times in a fresh tree each:
an unknown key (`rl.training.config.lrr=1`), a wrong value under an RLlib 1.x name
(`rl.training.config.num_sgd_iter=4.5`) and an environment id typo (`--env CartPol-v1`); prints each and the medians
(goal <= 2 s on the 2-core machine).

    python bench/typo.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time

from common import OUT, REPO, machine, python, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    medians = []
    for setting, named in (
        (("--set", "rl.training.config.lrr=1"), "rl.training.config.lrr"),
        (("--set", "rl.training.config.num_sgd_iter=4.5"), "'rl.training.config.num_sgd_iter' (RLlib 2.x"),
        (("--env", "CartPol-v1"), "not a registered gymnasium id"),
    ):
        seconds = []
        for round_ in range(args.rounds):
            base = OUT / "typo"
            shutil.rmtree(base, ignore_errors=True)
            started = time.monotonic()
            done = subprocess.run(
                [python(), "-m", "runtime.cli", "train", "--base-dir", str(base), *setting],
                cwd=REPO,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
            seconds.append(time.monotonic() - started)
            assert done.returncode == 2 and named in done.stderr, done.stderr[-2000:]
            print(f"{' '.join(setting)} round {round_}: named and exited in {seconds[-1]:.2f} s", flush=True)
        medians.append(statistics.median(seconds))
        print(f"{' '.join(setting)}: median {medians[-1]:.2f} s (goal <= 2 s)", flush=True)
    print(f"load average at the end: {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")
    record(
        "typo",
        f"{medians[0]:.2f} s (a key), {medians[2]:.2f} s (an env id)",
        figure="a typo named, start to exit",
        goal="<= 2 s",
        write_up="history.md",
    )


if __name__ == "__main__":
    main()
