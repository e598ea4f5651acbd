"""Benchmark: Batch RL on the seed's dataset (CartPole-v0, 100 envs x 5 episodes of a uniform random policy).

For each seed: collect the dataset with ``rlrt collect``, train the default offline preset (``cartpole-bcq``) with
``rlrt train`` on it, evaluate the exported model with ``rlrt evaluate-offline`` for 20 episodes, and check the pass
bar (mean return >= 195, training time <= 240 s). ``--preset`` trains another preset instead: a name or a file, e.g.
the Batch RL seed's own Coach preset file (``../shared/coach/rl_cartpole_batch_coach/src/preset-cartpole-ddqnbcq.py``,
translated to d3rlpy as a Coach user's job is; its CsvDataset is not beside it, so the train channel's data is
used). With ``--throughput``, also compare gradient updates per second through ``rlrt`` with a bare d3rlpy loop of
the same configuration on the same data.

By default each seed is both the data's and the training's. ``--data-seed N`` collects one dataset (the Batch RL
seed's: ``--seed N``) and trains every seed on that same file, so the spread is the training seed's alone; the
evaluation episodes' environment seeds are 10000+seed either way. A table (seed, training s, mean and min return,
pass) and the load average before each seed are printed at the end.

    python bench/offline_bcq.py --seeds 0 1 2 --throughput --out bench/results/offline_runs.json
    python bench/offline_bcq.py --data-seed 0 --seeds 0 1 2 3 4 5 6 7 8 9
    python bench/offline_bcq.py --preset ../shared/coach/rl_cartpole_batch_coach/src/preset-cartpole-ddqnbcq.py
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any
from pathlib import Path

from common import machine, record

REPO = Path(__file__).resolve().parent.parent
PASS_RETURN = 195.0
PASS_SECONDS = 240.0


def rlrt(
    args: list[str], base: Path | None = None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    if base is not None:
        env["SAGEMAKER_BASE_DIR"] = str(base)
    result = subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args], cwd=str(REPO), env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(
            f"rlrt {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def job_tree(base: Path, hyperparameters: dict[str, object]) -> None:
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps({k: json.dumps(v) for k, v in hyperparameters.items()}))
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1"]}))
    (config / "inputdataconfig.json").write_text("{}")


def collect(work: Path, data_seed: int) -> Path:
    """The seed's dataset: 100 CartPole-v0 envs x 5 episodes of the uniform random policy, env i seeded data_seed+i."""
    data = work / f"data{data_seed}" / "cartpole.csv"
    if not data.is_file():
        rlrt(
            [
                "collect",
                "--env",
                "CartPole-v0",
                "--num-envs",
                "100",
                "--num-episodes",
                "5",
                "--seed",
                str(data_seed),
                "--output",
                str(data),
                "--no-progress",
            ]
        )
    return data


def run_seed(
    seed: int,
    work: Path,
    overrides: dict[str, object],
    episodes: int,
    preset: str = "cartpole-bcq",
    data_seed: int | None = None,
) -> dict[str, object]:
    load = os.getloadavg()
    data = collect(work, seed if data_seed is None else data_seed)
    train = work / f"seed{seed}" / "train"
    coach_file = preset.endswith(".py")  # a Coach preset file trains through `rlrt train --preset FILE`
    job_tree(train, {"seed": seed, **overrides} if coach_file else {"preset": preset, "seed": seed, **overrides})
    (train / "input" / "data" / "train").mkdir(parents=True, exist_ok=True)
    (train / "input" / "data" / "train" / data.name).write_bytes(data.read_bytes())
    started = time.monotonic()
    result = rlrt(["train", "--preset", preset] if coach_file else ["train"], base=train)
    process_s = time.monotonic() - started
    with (train / "output" / "intermediate" / "progress.csv").open() as handle:
        progress = list(csv.DictReader(handle))
    training_s = float(progress[-1]["time_total_s"])
    rates = [float(x) for x in re.findall(r"^gradient_steps_per_s: (\S+)$", result.stdout, re.M)]
    metadata = json.loads((train / "model" / "metadata.json").read_text())
    evaluation = work / f"seed{seed}" / "evaluate"
    job_tree(evaluation, {"env": "CartPole-v0", "evaluate_episodes": episodes, "seed": 10_000 + seed})
    model_channel = evaluation / "input" / "data" / "model"
    shutil.copytree(train / "model", model_channel)
    evaluated = rlrt(["evaluate-offline"], base=evaluation)
    returns = [float(x) for x in re.findall(r"^Testing>.*Total reward=(.*?),", evaluated.stdout, re.M)]
    mean = sum(returns) / len(returns)
    return {
        "seed": seed,
        "data_seed": seed if data_seed is None else data_seed,
        "load_at_start": [round(x, 2) for x in load],
        "mean_return": mean,
        "min_return": min(returns),
        "returns": returns,
        "training_s": training_s,
        "process_s": process_s,
        "epochs": int(progress[-1]["training_iteration"]),
        "gradient_steps": int(progress[-1]["timesteps_total"]),
        "selected_epoch": metadata["training"].get("selected_epoch"),
        "stopped_by": metadata["training"].get("stopped_by"),
        "rlrt_gradient_steps_per_s": sum(rates) / len(rates) if rates else None,
        "passed": mean >= PASS_RETURN and training_s <= PASS_SECONDS,
    }


BARE = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(1)
import d3rlpy
sys.path.insert(0, sys.argv[1])
from runtime.backends.d3rlpy.config import split_config
from runtime.offline.dataset import load_logged_data
from runtime.config.presets import load_preset
from d3rlpy.algos.utility import build_scalers_with_transition_picker
preset = load_preset("cartpole-bcq")
config, own = split_config(preset.algorithm, dict(preset.config))
data = load_logged_data(__import__("pathlib").Path(sys.argv[2]), 200)
dataset = data.to_d3rlpy()
d3rlpy.seed(0)
algo = config.create(device="cpu:0")
build_scalers_with_transition_picker(algo, dataset)
algo.create_impl((data.observation_size,), data.n_actions)
steps = int(sys.argv[3])
rates = []
for epoch in range(steps // 1000):
    tick = time.perf_counter()
    for _ in range(1000):
        algo.update(dataset.sample_transition_batch(config.batch_size))
    rates.append(1000 / (time.perf_counter() - tick))
print(json.dumps({"bare_gradient_steps_per_s": float(np.mean(rates))}))
"""


def throughput(work: Path, steps: int, repeats: int) -> dict[str, object]:
    """Alternate a bare d3rlpy loop and rlrt (same preset config, same data, 1 torch thread each)."""
    data = collect(work, 0)
    bare_script = work / "bare.py"
    bare_script.write_text(BARE)
    bare, ours = [], []
    for r in range(repeats):
        out = subprocess.run(
            [sys.executable, str(bare_script), str(REPO), str(data), str(steps)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        bare.append(json.loads(out.stdout.strip().splitlines()[-1])["bare_gradient_steps_per_s"])
        tree = work / f"throughput{r}"
        job_tree(
            tree,
            {
                "preset": "cartpole-bcq",
                "rl.training.stop.epochs": steps // 1000,
                "rl.training.config.n_steps_per_epoch": 1000,
                "rl.training.stop.time_total_s": 100000,
                "rl.training.config.select_by": "last",
                "rl.training.config.evaluation_episodes": 0,
                "seed": 0,
            },
        )
        (tree / "input" / "data" / "train").mkdir(parents=True)
        (tree / "input" / "data" / "train" / "d.csv").write_bytes(data.read_bytes())
        result = rlrt(["train"], base=tree)
        rates = [float(x) for x in re.findall(r"^gradient_steps_per_s: (\S+)$", result.stdout, re.M)]
        ours.append(sum(rates) / len(rates))
    return {
        "bare_gradient_steps_per_s": bare,
        "rlrt_gradient_steps_per_s": ours,
        "ratio_of_means": (sum(ours) / len(ours)) / (sum(bare) / len(bare)),
    }


def table(runs: list[dict[str, object]]) -> str:
    """The runs as a Markdown table (what the write-ups in bench/results/ carry)."""
    rows = [
        "| seed | data seed | load at start | training s | mean return | min | gradient steps | passed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        load = "/".join(f"{x:.1f}" for x in r["load_at_start"])  # type: ignore[attr-defined]
        rows.append(
            f"| {r['seed']} | {r['data_seed']} | {load} | {r['training_s']:.1f} | {r['mean_return']:.1f} | "
            f"{r['min_return']:.0f} | {r['gradient_steps']} | {'yes' if r['passed'] else 'NO'} |"
        )
    return "\n".join(rows)


def record_rows(args: argparse.Namespace, runs: list[dict[str, Any]], throughput: object) -> None:
    """This run's rows in bench/results/results.json: which row depends on the preset and the data it trained on;
    another named preset has no row."""
    passed = sum(1 for run in runs if run["passed"])
    if len(runs) <= 3:
        result = (
            " / ".join(f"{run['mean_return']:.1f}" for run in runs)
            + " in "
            + " / ".join(f"{run['training_s']:.1f}" for run in runs)
            + " s"
        )
    else:
        result = f"min mean {min(run['mean_return'] for run in runs):.1f}; {passed} of {len(runs)} passed"
    if Path(args.preset).is_file():
        record(
            "offline-coach-preset",
            result,
            figure="Coach preset file, 20-episode return",
            goal="~200",
            write_up="offline.md",
        )
    elif args.preset == "cartpole-bcq" and args.data_seed is None:
        record(
            "offline-bcq",
            result,
            figure="cartpole-bcq: 20-episode return, training s",
            goal=f">= {PASS_RETURN:g} in <= {PASS_SECONDS:g} s, {len(runs)} of {len(runs)}",
            write_up="offline.md",
        )
    elif args.preset == "cartpole-bcq":
        # one seed in ten may miss: the bar of a spread over training seeds
        record(
            "offline-bcq-one-csv",
            result,
            figure=f"cartpole-bcq on one CSV, {len(runs)} training seeds",
            goal=f">= {PASS_RETURN:g} in <= {PASS_SECONDS:g} s, {len(runs) - len(runs) // 10} of {len(runs)}",
            write_up="history.md",
        )
    if isinstance(throughput, dict):
        record(
            "offline-throughput",
            f"{throughput['ratio_of_means']:.2f}",
            figure="offline updates/s, rlrt/bare d3rlpy",
            goal=">= 0.95",
            write_up="offline.md",
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data-seed", type=int, help="train every seed on this one dataset (default: each its own)")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes per seed")
    parser.add_argument("--preset", default="cartpole-bcq", help="the preset to train: a name or a file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra hyperparameters")
    parser.add_argument("--throughput", action="store_true", help="also compare updates/s with a bare d3rlpy loop")
    parser.add_argument("--throughput-steps", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, value = item.split("=", 1)
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    runs: list[dict[str, Any]] = []
    results: dict[str, object] = {
        "machine": machine(),
        "command": " ".join(sys.argv),
        "preset": args.preset,
        "overrides": overrides,
        "runs": runs,
    }
    print(f"machine: {results['machine']}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rlrt-bench-offline-") as tmp:
        work = Path(tmp)
        for seed in args.seeds:
            preset = str(Path(args.preset).resolve()) if Path(args.preset).is_file() else args.preset
            run = run_seed(seed, work, overrides, args.episodes, preset, args.data_seed)
            runs.append(run)
            print(json.dumps({k: v for k, v in run.items() if k != "returns"}), flush=True)
        if args.throughput:
            results["throughput"] = throughput(work, args.throughput_steps, args.repeats)
            print(json.dumps(results["throughput"]), flush=True)
    results["load_at_end"] = os.getloadavg()[0]
    passed = sum(1 for r in runs if r["passed"])
    results["passed"] = f"{passed}/{len(args.seeds)}"
    print(table(runs), flush=True)
    print(f"passed {passed}/{len(args.seeds)} seeds", flush=True)
    if not overrides:
        record_rows(args, runs, results.get("throughput"))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
    return 0 if passed == len(args.seeds) else 1


if __name__ == "__main__":
    sys.exit(main())
