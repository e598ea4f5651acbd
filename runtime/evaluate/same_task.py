"""A model plays only the environment it was trained on: evaluating a checkpoint in another environment, or one whose
spaces differ, is refused before the first episode (a policy of two actions played in an env of three, or a CartPole
policy in another 4-float env, plays on and reports returns that mean nothing)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Mapping

from envs.catalog import ALIASES
from runtime.errors import UserError
from runtime.export.model_dir import describe_space

COMPARED = ("Box", "Discrete", "MultiDiscrete", "MultiBinary")
"""The space types compared: a Dict or Tuple observation reaches the policy flattened, which the model's metadata may
describe either way."""


def short(description: Mapping[str, Any]) -> str:
    """``Box(4,)``, ``Discrete(2)``, ``MultiDiscrete([3, 2])`` from a ``metadata.json`` space description."""
    kind = str(description.get("type"))
    if kind == "Discrete":
        return f"Discrete({description.get('n')})"
    if kind == "MultiDiscrete":
        return f"MultiDiscrete({description.get('nvec')})"
    return f"{kind}({', '.join(map(str, description.get('shape') or []))},)"


def env_name(env_id: str) -> str:
    """An environment's name without its namespace, module or game prefix and version: ``sagemaker_rl/CartPole-v1``
    -> ``CartPole``, ``unity:Basic`` -> ``Basic``, ``RoboschoolReacher-v1`` -> ``ReacherBulletEnv``
    (the versions of one env share their spaces: CartPole-v0 and -v1 differ only in their episode limit)."""
    bare = re.split(r"[/:]", env_id)[-1]
    # rlrt's aliases name one task twice (the seeds' RoboschoolReacher-v1 is played as ReacherBulletEnv-v0).
    resolved = re.split(r"[/:]", ALIASES.get(bare, bare))[-1]
    return re.sub(r"-v\d+$", "", resolved)


def same_task(model_dir: Path, metadata: Mapping[str, Any], env_id: str) -> Callable[[Any], None]:
    """A check of the first env built for the evaluation: a :class:`UserError` when ``env_id`` is another environment
    than the model's (both gymnasium-style ids, ``Name-vN``), or its observation or action space differs from the
    model's."""
    trained = str(metadata.get("env") or "")

    def check(env: Any) -> None:
        differs = []
        for name in ("observation_space", "action_space"):
            model_space, space = metadata.get(name), getattr(env, name, None)
            if not isinstance(model_space, Mapping) or model_space.get("type") not in COMPARED or space is None:
                continue
            model_short, env_short = short(model_space), short(describe_space(space))
            if model_short != env_short:
                differs.append(f"{name.replace('_', ' ')}s {model_short} (model) and {env_short} ({env_id})")
        # Only gymnasium-style ids (Name-vN) are compared by name: a family's id ("Unity", whose game is in its
        # env_config) and a game id ("unity:Basic") name one environment in two ways.
        versioned = all(re.search(r"-v\d+$", name) for name in (trained, env_id))
        other = versioned and env_name(trained) != env_name(env_id)
        if not differs and not other:
            return
        what = "; ".join(differs) if differs else "the same spaces, but another environment"
        raise UserError(
            f"The model in {model_dir} was trained on {trained or 'another environment'}, not on "
            f"{env_id} ({what}): its returns there would mean nothing. Evaluate it on the environment "
            f"it was trained on: the 'env' hyperparameter ({'env=' + trained if trained else 'env'}; "
            f"rlrt evaluate: --set env{'=' + trained if trained else '=...'})."
        )

    return check
