"""Shared pieces of the parser fuzzing (tests/unit/test_fuzz_*.py): the seeded Hypothesis profile, the hang
watchdog, the property every parser must keep, and strategies for plausible-but-wrong values."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any, Callable, Iterable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("RLRT_FUZZ_EXAMPLES", "40"))
settings.register_profile(
    "rlrt-fuzz",
    derandomize=True,
    max_examples=EXAMPLES,
    deadline=2000,
    print_blob=True,
    # Some strategies build whole files (truncated YAML, CSV, .npy): slower to generate than Hypothesis expects.
    suppress_health_check=[HealthCheck.too_slow],
)
FUZZ = settings(settings.get_profile("rlrt-fuzz"))
HANG_S = 10.0


@contextlib.contextmanager
def watchdog(seconds: float = HANG_S) -> Any:
    """Fail an example that runs longer than ``seconds`` (a hang), rather than stalling the suite."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the parser ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def works_or_user_error(
    call: Callable[[], Any], errors: tuple[type[BaseException], ...], culprits: Iterable[str] = ()
) -> BaseException | None:
    """Run ``call``: it returns, or raises one of ``errors`` with a message naming one of ``culprits``."""
    with watchdog():
        try:
            call()
        except errors as exc:
            message = str(exc)
            assert message.strip(), f"{type(exc).__name__} with an empty message"
            names = [c for c in culprits if c]
            assert not names or any(c in message for c in names), f"{message!r} names none of {names}"
            return exc
    return None


# --- values as they arrive: JSON-decoded strings of SageMaker's hyperparameters.json ---------------------------
HUGE = st.sampled_from([10**400, -(10**400), 2**63, 1e308, -1e308, 1e-320])
NONFINITE = st.sampled_from([float("nan"), float("inf"), float("-inf")])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    HUGE,
    NONFINITE,
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            " ",
            "4",
            "0.5",
            '"4"',
            "1e400",
            "NaN",
            "PPO",
            "true",
            "[64, 64]",
            "categorical",
            "huber",
            "\u00e9t\u00e9",
            "\x00",
        ]
    ),
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10,
)


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path


def truncations(texts: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Whole files, and files cut off anywhere (an interrupted upload)."""
    return texts.flatmap(lambda t: st.integers(0, len(t)).map(lambda n: t[:n]) | st.just(t))
