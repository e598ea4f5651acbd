"""``rlrt evaluate``: play any trained model in its environment (the seeds' ``evaluate-ray.py``, ``evaluate-unity.py``
and ``evaluate-coach.py`` jobs; ``rlrt evaluate-offline`` and ``rlrt deepracer-evaluate`` are aliases).

The model comes from ``--model``, the ``model`` channel, or the seeds' legacy ``checkpoint`` channel (a folder written
by ``rlrt train``, a ``model.tar.gz`` of one, or a d3rlpy checkpoint); :mod:`runtime.evaluate.loaders` has the
backend that wrote it load its policy (else its ONNX policy). A model of an environment family with its own
evaluation (:meth:`runtime.contracts.Plugins.family_for`, e.g. laps and ``evaluation_metrics.json``) is handed to the
family. :func:`evaluate_policy` is the same loop and summary for the policy a training job just exported.

Hyperparameters: ``evaluate_episodes`` (default 5) and/or ``evaluate_steps`` (Coach's: stop at the end of the episode
that crosses N steps), ``evaluate_max_episode_steps`` (an episode not ended by then is cut there, truncated: default
the env's own step limit, else 10,000), ``algorithm`` (checked against the model's; ``BCQ`` matches ``DiscreteBCQ``),
``env`` (default: the model's environment, else the preset's), optional ``config`` (``{"env_config": {...}}``) or
``rl.training.config.env_config.<key>``, ``record_video_every`` (film every Nth episode; default 1, 0 = no videos)
and ``seed``. The environment's ``env_config`` is the model's, with the job's context (the ``train`` channel for a
Unity game) added by :func:`runtime.job.env_config.job_env_config`. Output per episode: ``Episode reward: <x>. Episode
steps: <n>`` and a Coach-style ``Testing>`` line; at the end ``episode_reward_mean: <x>`` (and max/min/len) and
``output/intermediate/evaluation.json``. Videos go to ``output/intermediate/evaluation-episode-NNNN.mp4``; a game
that cannot render gets none, and one line says so. A model in a job tree (``--model rlrt-jobs/<name>``), or one of
its checkpoints (``--checkpoint N|PATH``, :mod:`runtime.evaluate.trees`), evaluated with no tree named writes these
beside it instead, into ``<tree>/output/evaluation/<time>/``.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO

from envs.errors import EnvConfigError
from envs.registry import UnknownEnvironmentError, canonical_env_id
from runtime.config import hyperparameters as hp
from runtime.config.presets import load_preset
from runtime.contracts import Actor, Plugins
from runtime.errors import UserError
from runtime.evaluate.episodes import EvaluationResult, batched, run_episodes, testing_line
from runtime.evaluate.loaders import load_actor, locate, trained_env_config
from runtime.evaluate.same_task import same_task
from runtime.evaluate.settings import CONFIG, algorithm_matches, check_hyperparameters
from runtime.evaluate.trees import checkpoint_model, find_checkpoint, tree_of
from runtime.evaluate.video import EpisodeRecorder, gif_of
from runtime.job.context import Job
from runtime.job.env_config import job_env_config
from runtime.job.setup import makes_a_new_tree, require_writable, run_beside, run_in_job
from runtime.names import CHANNEL_CHECKPOINT, CHANNEL_MODEL, EVALUATION_DIR, EVALUATION_JSON
from runtime.stop_signals import STOPS

DEFAULT_EPISODES = 5
DEFAULT_VIDEOS = 5
"""Without ``record_video_every``, an evaluation films its first episodes only (a long one wrote 105 videos)."""
DEFAULT_SEED = 10_000


def _environment(
    settings: Mapping[str, Any], metadata: Mapping[str, Any], model_dir: Path, env: str | None, plugins: Plugins
) -> str:
    """The canonical id of the environment to play: ``env``, the hyperparameter, the model's, the preset's (one the
    training job's own script registered is registered again from the code the model kept)."""
    name = env or settings.get(hp.EVAL_ENV) or metadata.get("env")
    preset = next((settings[k] for k in (hp.PRESET, *hp.PRESET_ALIASES) if k in settings), None)
    if not name and preset:
        name = load_preset(str(preset)).env
    if not name:
        raise UserError(
            f"No environment to evaluate the model in {model_dir} in: its metadata.json names none; set "
            "the 'env' hyperparameter (e.g. CartPole-v0)."
        )
    try:
        return canonical_env_id(str(name))
    except UnknownEnvironmentError as exc:
        trained = str(metadata.get("env") or "")
        if trained.rpartition("/")[2] == str(name):  # the name a training script registered (its notebook's cell)
            name = trained
        try:
            restored = plugins.restore_environment(str(name), model_dir)
        except EnvConfigError as error:
            raise UserError(str(error)) from error
        if restored:
            return canonical_env_id(str(name))
        raise UserError(str(exc)) from exc


def evaluate(
    job: Job,
    model_dir: Path,
    metadata: Mapping[str, Any],
    plugins: Plugins,
    stream: TextIO | None = None,
    env: str | None = None,
    played: Path | None = None,
) -> EvaluationResult:
    """Play the model in ``model_dir`` (in ``env``, else as ``job``'s hyperparameters say); print the per-episode
    lines and the summary, write ``evaluation.json`` (and videos) to the job's ``intermediate_dir``. ``played``: what
    the lines and ``evaluation.json`` name as played, when not ``model_dir`` (a checkpoint of its tree)."""
    out = stream or sys.stdout
    settings = check_hyperparameters(job.hyperparameters)
    algorithm, trained = settings.get(hp.ALGORITHM), metadata.get("algorithm")
    if algorithm and trained and not algorithm_matches(str(algorithm), str(trained)):
        raise UserError(f"'algorithm' is {algorithm!r} but the model in {model_dir} was trained with {trained!r}.")
    if algorithm and trained:
        how = "is" if str(algorithm).strip().upper() == str(trained).strip().upper() else "is the family of"
        print(f"rlrt: 'algorithm' {algorithm} {how} the model's {trained}", file=out, flush=True)
    env_id = _environment(settings, metadata, model_dir, env, plugins)
    episodes, steps = settings.get(hp.EVALUATE_EPISODES), settings.get(hp.EVALUATE_STEPS)
    if episodes is None and steps is None:
        episodes = DEFAULT_EPISODES
    given_config = dict((settings.get(CONFIG) or {}).get("env_config") or {})
    env_config = job_env_config(env_id, {**trained_env_config(model_dir), **given_config}, job.env)
    # The env's spaces are checked against the model's before the first episode (same_task): an observation
    # reaches the policy flattened (run_episodes), an image too, so its shape is checked there, not here.
    actor = load_actor(model_dir, metadata, plugins)
    video_every = int(settings.get(hp.RECORD_VIDEO_EVERY, 1))
    bounded = hp.RECORD_VIDEO_EVERY not in settings  # by default a handful of videos, not one per episode
    intermediate = Path(job.env.intermediate_dir)

    def video_path(episode: int) -> Path | None:
        if not video_every or (episode - 1) % video_every or (bounded and episode > DEFAULT_VIDEOS):
            return None
        return intermediate / f"evaluation-episode-{episode:04d}.mp4"

    # Coach's Testing> lines name the training iteration the evaluated policy came from.
    iteration = int((metadata.get("training") or {}).get("training_iteration") or 0)

    def on_episode(index: int, total: float, length: int, total_steps: int) -> None:
        print(f"Episode reward: {total}. Episode steps: {length}", file=out)
        print(testing_line(index, total, length, iteration), file=out, flush=True)

    amount = " and ".join(([f"{episodes} episode(s)"] if episodes else []) + ([f"{steps} steps"] if steps else []))
    what = f"checkpoint {played} (iteration {iteration})" if played else f"model from {model_dir}"
    print(
        f"rlrt: evaluating {trained or metadata.get('framework')} {what} on {env_id} for "
        f"{'at most ' if episodes and steps else ''}{amount}",
        file=out,
        flush=True,
    )
    line = _videos_line(episodes, bounded and bool(video_every))
    if line:
        print(line, file=out, flush=True)
    try:
        with STOPS.phase_of("the evaluation"), EpisodeRecorder(video_path, out, name=env_id) as recorder:
            result = run_episodes(
                batched(actor),
                env_id,
                episodes=episodes,
                max_total_steps=steps,
                seed=int(settings.get(hp.SEED, DEFAULT_SEED)),
                env_config=env_config,
                parallel=1,
                on_episode=on_episode,
                recorder=recorder if video_every else None,
                check_env=same_task(model_dir, metadata, env_id),
                out=out,
                step_budget=settings.get(hp.EVALUATE_MAX_EPISODE_STEPS),
            )
    except EnvConfigError as exc:
        raise UserError(str(exc)) from exc
    write_summary(
        result, env_id, intermediate, out, {"model": str(played or model_dir), "training_iteration": iteration}
    )
    return result


def _videos_line(episodes: int | None, bounded: bool) -> str | None:
    """The line saying that only the first episodes are filmed, when more will be played."""
    if bounded and (episodes is None or episodes > DEFAULT_VIDEOS):
        return (
            f"rlrt: videos of the first {DEFAULT_VIDEOS} episodes (the hyperparameter record_video_every=N films "
            "every Nth; 0: none)"
        )
    return None


def evaluate_policy(
    actor: Actor,
    env_id: str,
    episodes: int | None,
    iteration: int,
    intermediate: Path,
    stream: TextIO | None = None,
    videos: bool = False,
    steps: int | None = None,
    gifs: bool = False,
    step_budget: int | None = None,
) -> EvaluationResult:
    """Play a policy a training job has just exported for ``episodes`` episodes, or ``steps`` environment steps (the
    episode that crosses them played to its end) (seeded as :func:`evaluate` seeds them); print a ``Testing>`` line
    per episode and the summary, write ``evaluation.json``. ``videos``: film the first episodes (as :func:`evaluate`
    does by default) to ``evaluation-episode-NNNN.mp4``; ``gifs``: and a GIF copy of each in ``gifs/``, named as
    Coach named its gifs (``episode-N_score-R.gif``, the names its notebooks' gif cells sort by). ``step_budget``: the
    steps an episode may take (the hyperparameter ``evaluate_max_episode_steps``; default as
    :func:`runtime.evaluate.episodes.run_episodes`)."""
    out = stream or sys.stdout
    length = f"{episodes} episodes" if episodes else f"{steps} steps (whole episodes)"
    print(f"rlrt: evaluating the exported policy in {env_id} for {length}", file=out, flush=True)
    returns: dict[int, float] = {}

    def on_episode(index: int, total: float, length: int, total_steps: int) -> None:
        returns[index] = total
        print(testing_line(index, total, length, iteration), file=out, flush=True)

    def video_path(episode: int) -> Path | None:
        return intermediate / f"evaluation-episode-{episode:04d}.mp4" if episode <= DEFAULT_VIDEOS else None

    with EpisodeRecorder(video_path, out, name=env_id) as recorder:
        result = run_episodes(
            batched(actor),
            env_id,
            episodes=episodes,
            seed=DEFAULT_SEED,
            on_episode=on_episode,
            recorder=recorder if videos else None,
            max_total_steps=steps,
            out=out,
            step_budget=step_budget,
            parallel=1 if steps else 10,
        )  # counted in steps: one env in turn, as Coach played
    write_summary(result, env_id, intermediate, out)
    if videos and gifs:
        _gif_copies(
            [
                (path, episode, returns[episode])
                for episode in sorted(returns)
                if (path := video_path(episode)) is not None and path.is_file()
            ],
            intermediate / "gifs",
            out,
        )
    return result


def _gif_copies(videos: Sequence[tuple[Path, int, float]], folder: Path, out: TextIO) -> None:
    """A GIF copy of each (video, episode, return) in ``folder``; one that cannot be made is said, not fatal (the
    model and the mp4 are what the job promised)."""
    made = []
    for video, episode, total in videos:
        gif = folder / f"episode-{episode}_score-{total:g}.gif"
        try:
            gif_of(video, gif)
            made.append(gif.name)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"rlrt: no GIF of {video.name}: {type(exc).__name__}: {exc}", file=out, flush=True)
    if made:
        print(
            f"rlrt: GIFs of the evaluation episodes (Coach's dump_gifs) in {folder}: {', '.join(made)}",
            file=out,
            flush=True,
        )


def write_summary(
    result: EvaluationResult,
    env_id: str,
    intermediate: Path,
    stream: TextIO | None = None,
    played: Mapping[str, Any] | None = None,
) -> None:
    """Print the ``episode_reward_mean:`` lines and write ``evaluation.json`` (with ``played``: what was played, the
    model folder or checkpoint and the iteration it holds)."""
    out = stream or sys.stdout
    for line in result.summary_lines():
        print(line, file=out)
    out.flush()
    rewards, lengths = list(result.returns), list(result.lengths)
    summary = {
        **result.summary(),
        "episodes": len(rewards),
        "env": env_id,
        "rewards": rewards,
        "lengths": lengths,
        "returns": rewards,
        "mean": result.mean,  # the names evaluate-coach's evaluation.json has always had
        **dict(played or {}),
    }
    intermediate.mkdir(parents=True, exist_ok=True)
    (intermediate / EVALUATION_JSON).write_text(json.dumps(summary, indent=2))


def model_source(job: Job, model: Path | None) -> Path:
    """``model``, else the ``model`` channel, else the seeds' legacy ``checkpoint`` channel."""
    if model is not None:
        return Path(model)
    for channel in (CHANNEL_MODEL, CHANNEL_CHECKPOINT):
        if job.env.channel_dir(channel).is_dir():
            return job.env.channel_dir(channel)
    return job.env.require_channel(CHANNEL_MODEL)


def evaluate_in_job(
    job: Job,
    plugins: Plugins,
    model: Path | None = None,
    stream: TextIO | None = None,
    env: str | None = None,
    framework: str | None = None,
    family_options: Mapping[str, Any] | None = None,
    checkpoint: str | None = None,
) -> int:
    """Evaluate a model in ``job``: through its environment family's own evaluation when it has one, else by
    :func:`evaluate`. ``env`` overrides the ``env`` hyperparameter; ``framework`` names the only kind of model
    expected; ``family_options`` go to the family's evaluation; ``checkpoint`` (``--checkpoint N|PATH``): play that
    checkpoint of the tree ``model`` names instead of its final model (:mod:`runtime.evaluate.trees`)."""
    out = stream or sys.stdout
    if checkpoint is not None:
        folder = find_checkpoint(checkpoint, tree_of(model) if model is not None else None)
        model_dir, metadata = checkpoint_model(folder, model)
        if plugins.family_for(str(env or job.hyperparameters.get(hp.EVAL_ENV) or metadata.get("env") or "")):
            raise UserError(
                f"--checkpoint: a {metadata.get('env')} model is evaluated by its own family's "
                "evaluation, which plays model folders only: evaluate its model/."
            )
        evaluate(job, model_dir, metadata, plugins, out, env, played=folder)
        return 0
    source = model_source(job, model)
    given_env = env or job.hyperparameters.get(hp.EVAL_ENV)
    family = plugins.family_for(given_env) if isinstance(given_env, str) and given_env.strip() else None
    if family is not None:
        return int(family.evaluate(job, source, job.hyperparameters, job.overrides, out, **dict(family_options or {})))
    model_dir, metadata = locate(source, plugins, framework)
    family = plugins.family_for(str(metadata.get("env") or "")) if not given_env else None
    if family is not None:
        return int(
            family.evaluate(job, model_dir, job.hyperparameters, job.overrides, out, **dict(family_options or {}))
        )
    evaluate(job, model_dir, metadata, plugins, out, env)
    return 0


def run_evaluation_job(
    base_dir: Path | None,
    overrides: Mapping[str, Any] | None = None,
    model: Path | None = None,
    *,
    plugins: Plugins,
    env: str | None = None,
    framework: str | None = None,
    hint: str = "evaluate",
    family_options: Mapping[str, Any] | None = None,
    checkpoint: str | None = None,
) -> int:
    """``rlrt evaluate`` (and its aliases) through the one job setup and failure path; returns the exit code. A model
    (or ``checkpoint``) in a job tree, evaluated where no tree is named (no ``--base-dir``, ``SAGEMAKER_BASE_DIR``
    or job in ``/opt/ml``), writes beside it, into ``<tree>/output/evaluation/<time>/``, not a tree of its own."""
    # The paths as given, before the evaluation runs in the job's folder (below).
    model = model.expanduser().absolute() if model is not None else None
    if checkpoint and not checkpoint.strip().isdigit():
        checkpoint = str(Path(checkpoint).expanduser().absolute())

    def body(job: Job) -> int:
        # Before the model loads: a place for evaluation.json and the videos (not a file, not read-only).
        require_writable(job.env.intermediate_dir, "output/intermediate", min_free=0)
        # A user's environment may write files where it runs (a log, a CSV): they belong to this job's output,
        # never to the folder the command was launched from (a user's clone).
        with contextlib.chdir(job.env.intermediate_dir):
            return evaluate_in_job(
                job, plugins, model, env=env, framework=framework, family_options=family_options, checkpoint=checkpoint
            )

    named = model if model is not None else Path(checkpoint) if checkpoint and not checkpoint.isdigit() else None
    tree = tree_of(named) if named is not None else None
    if tree is not None and makes_a_new_tree(base_dir):
        return run_beside(tree, tree / EVALUATION_DIR / time.strftime("%Y%m%d-%H%M%S"), overrides or {}, body)
    return run_in_job(base_dir, overrides, hint, body)


__all__: Sequence[str] = ["evaluate", "evaluate_in_job", "evaluate_policy", "run_evaluation_job", "write_summary"]
