"""What user code written for NumPy 1 and gym 0.21 expects of them, given back in the processes that run it.

SageMaker RL's environments were written against NumPy 1 and gym <= 0.21; rlrt's pinned NumPy 2 and gym 0.26 refuse
three things such code does, each bridged here:

- NumPy 1's names that NumPy 2 removed (``np.int``, ``np.float``, ``np.bool8``, ``np.float_``, ``np.NaN``, ...):
  each missing one is set on ``numpy`` to what it was in NumPy 1.23 (a builtin, a NumPy type or a function);
  a name NumPy 2 has again (``np.bool``, ``np.long``) is left as NumPy 2 defines it;
- gym 0.26's ``Box`` refuses infinite bounds for an unsigned dtype (``Unknown dtype uint32 for infinite bounds``,
  the knapsack example's observations): they become the dtype's range, as gym 0.26 does for signed integers;
- gym 0.26's ``EnvSpec`` requires ``entry_point``, optional (None) in gym 0.21;
- gym 0.26's ``gym.utils.seeding`` lost ``hash_seed`` and ``create_seed``, which gym 0.21 envs' ``seed()`` call
  (the stock trading example's): gym 0.21's own functions are given back.

:func:`install` applies them only where a user's code runs: the launcher's process (``sagemaker_rl.compat.install``)
and the env runners that build a user's environment (Ray's worker set-up hook, when the job's process asked for it
by :data:`MARKER`); rlrt's own environments never see them. Each is announced in one ``rlrt:`` line, the NumPy names
when installed, the gym ones on first use.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import os
import struct
import sys
import warnings
from typing import Any, Callable

import numpy as np

from envs.adapters import say_once as _say

MARKER = "RLRT_ERA_COMPAT"
"""Set in the job's environment once :func:`install` ran, so that Ray's workers (started with that environment)
install the same before they unpickle a user's env creator (which may import the user's module)."""

NUMPY1_NAMES: dict[str, Any] = {
    # The builtins NumPy 1 (< 1.24) exported under these names.
    "int": builtins.int,
    "float": builtins.float,
    "complex": builtins.complex,
    "object": builtins.object,
    "str": builtins.str,
    "unicode": builtins.str,
    # NumPy 1's other spellings of its scalar types, removed in NumPy 2.0.
    "bool8": np.bool_,
    "float_": np.float64,
    "complex_": np.complex128,
    "string_": np.bytes_,
    "unicode_": np.str_,
    "int0": np.intp,
    "uint0": np.uintp,
    "object0": np.object_,
    "str0": np.str_,
    "bytes0": np.bytes_,
    "void0": np.void,
    # Constants and functions removed in NumPy 2.0.
    "NaN": np.nan,
    "NAN": np.nan,
    "Inf": np.inf,
    "Infinity": np.inf,
    "infty": np.inf,
    "PINF": np.inf,
    "NINF": -np.inf,
    "product": np.prod,
    "cumproduct": np.cumprod,
    "alltrue": np.all,
    "sometrue": np.any,
    "round_": np.round,
}


def provide_numpy1_names() -> list[str]:
    """Set each of :data:`NUMPY1_NAMES` that ``numpy`` lacks; the names set (none when all were there)."""
    with warnings.catch_warnings():  # NumPy 2 warns on asking for np.object, np.str (planned as its own scalars)
        warnings.simplefilter("ignore", FutureWarning)
        missing = [name for name in NUMPY1_NAMES if not hasattr(np, name)]
    for name in missing:
        setattr(np, name, NUMPY1_NAMES[name])
    return missing


class UnsignedInfiniteBounds:
    """gym 0.26's ``gym.spaces.box.get_inf`` knowing unsigned dtypes too: +inf is the dtype's maximum less 2 and
    -inf is 0 (gym 0.26 uses the maximum less 2 and the minimum plus 2 for signed integers), announced once."""

    def __init__(self, original: Callable[[Any, str], Any]) -> None:
        self.original = original

    def __call__(self, dtype: Any, sign: str) -> Any:
        kind = np.dtype(dtype).kind
        if kind != "u" or sign not in "+-":
            return self.original(dtype, sign)
        top = int(np.iinfo(dtype).max) - 2
        _say(
            "box",
            f"rlrt: a gym.spaces.Box of {np.dtype(dtype)} with infinite bounds (gym 0.21 allowed it, gym 0.26 "
            f"refuses it): its infinite bounds are taken as 0 and {top}",
        )
        return top if sign == "+" else 0


def _spec_init_without_entry_point(original: Callable[..., None]) -> Callable[..., None]:
    """``EnvSpec.__init__`` taking ``entry_point`` as optional (None), as gym 0.21 did."""

    @functools.wraps(original)  # __wrapped__: the original, for whoever undoes the bridge
    def __init__(self: Any, id: str, entry_point: Any = None, *args: Any, **kwargs: Any) -> None:
        if entry_point is None:
            _say(
                "spec",
                f"rlrt: gym EnvSpec({id!r}) without entry_point (gym 0.21 allowed it, gym 0.26 requires it): "
                "made with entry_point=None",
            )
        original(self, id, entry_point, *args, **kwargs)

    __init__.rlrt_era = True  # type: ignore[attr-defined]
    return __init__


def _bigint_from_bytes(data: bytes) -> int:
    """gym 0.21's ``seeding._bigint_from_bytes``: little-endian 32-bit words, zero-padded, as one integer."""
    data += b"\0" * (4 - len(data) % 4)
    words = struct.unpack(f"{len(data) // 4}I", data)
    return sum(2 ** (32 * i) * word for i, word in enumerate(words))


def create_seed(a: Any = None, max_bytes: int = 8) -> int:
    """gym 0.21's ``seeding.create_seed``: a seed from os.urandom (None), a string's hash or an integer."""
    if a is None:
        return _bigint_from_bytes(os.urandom(max_bytes))
    if isinstance(a, str):
        raw = a.encode("utf8")
        return _bigint_from_bytes((raw + hashlib.sha512(raw).digest())[:max_bytes])
    if isinstance(a, int):
        return int(a % 2 ** (8 * max_bytes))
    raise TypeError(f"Invalid type for seed: {type(a)} ({a})")


def hash_seed(seed: Any = None, max_bytes: int = 8) -> int:
    """gym 0.21's ``seeding.hash_seed``: a seed's SHA-512, as an integer of ``max_bytes`` bytes."""
    if seed is None:
        seed = create_seed(max_bytes=max_bytes)
    return _bigint_from_bytes(hashlib.sha512(str(seed).encode("utf8")).digest()[:max_bytes])


SEEDING_FUNCTIONS = {"hash_seed": hash_seed, "create_seed": create_seed}
"""What gym 0.21's ``gym.utils.seeding`` had and gym 0.26's lacks."""


def _give_seeding_back() -> None:
    seeding: Any = sys.modules.get("gym.utils.seeding")
    missing = [name for name in SEEDING_FUNCTIONS if seeding is not None and not hasattr(seeding, name)]
    for name in missing:
        setattr(seeding, name, SEEDING_FUNCTIONS[name])
    if missing and os.environ.get(MARKER) is None:  # the job's process: an env runner says nothing of them
        _say(
            "seeding",
            "rlrt: gym.utils.seeding.hash_seed and create_seed (gym 0.21's; gym 0.26 removed them) are "
            "provided for your code, as gym 0.21 defined them",
        )


def adapt_gym() -> bool:
    """Bridge gym 0.26's two refusals (unsigned infinite bounds, ``EnvSpec`` without ``entry_point``) when this
    process has imported ``gym`` (a user's code did); whether that bridged anything new here."""
    box: Any = sys.modules.get("gym.spaces.box")  # gym's modules, as the user's code imported them
    registration: Any = sys.modules.get("gym.envs.registration")
    if box is None or registration is None:
        return False
    _give_seeding_back()
    spec = registration.EnvSpec
    if isinstance(box.get_inf, UnsignedInfiniteBounds) and getattr(spec.__init__, "rlrt_era", False):
        return False
    if not isinstance(box.get_inf, UnsignedInfiniteBounds):
        # Box casts an array bound to the dtype before it replaces the infinite entries: NumPy warns of casting inf.
        warnings.filterwarnings(
            "ignore", message="invalid value encountered in cast", category=RuntimeWarning, module="gym.spaces.box"
        )
        # _broadcast, which Box.__init__ calls, looks get_inf up in its module's globals at each call.
        box.get_inf = UnsignedInfiniteBounds(box.get_inf)
    if not getattr(spec.__init__, "rlrt_era", False):
        spec.__init__ = _spec_init_without_entry_point(spec.__init__)
    return True


def install() -> None:
    """Give user code NumPy 1's names and bridge gym 0.26 (when imported) in this process, and ask Ray's workers
    started from it to do the same (:data:`MARKER`)."""
    provided = provide_numpy1_names()
    if provided and os.environ.get(MARKER) is None:  # the job's process: an env runner says nothing of them
        shown = ", ".join(f"np.{name}" for name in provided[:6])
        _say(
            "numpy",
            f"rlrt: NumPy 1 names NumPy 2 removed ({shown}{', ...' if len(provided) > 6 else ''}) are "
            "provided for your code, as NumPy 1.23 defined them",
        )
    adapt_gym()
    os.environ[MARKER] = "1"


def install_if_asked() -> None:
    """:func:`install` in a Ray worker whose job's process installed it (Ray's ``worker_process_setup_hook``)."""
    if os.environ.get(MARKER):
        install()
