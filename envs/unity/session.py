"""One running Unity player and its ``UnityEnvironment``: launch (own port, retry when busy), talk, close.

Every call into ``mlagents_envs`` goes through :meth:`UnitySession.call`, which turns a player that died, stopped
answering or closed the connection into a :class:`UnityPlayerError` naming the player, its worker id and port, its
log file and the log's last lines, and makes sure the player process is gone.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from envs.errors import EnvStartError
from envs.unity.config import UnityConfig

log = logging.getLogger(__name__)

T = TypeVar("T")
LOG_TAIL_LINES = 15


class UnityPlayerError(EnvStartError):
    """The Unity player died, timed out or closed the connection (RLlib restarts the env runner that saw it)."""


_LAUNCH_LOCK = threading.Lock()


@contextlib.contextmanager
def player_output_to(log_file: Path | None) -> Iterator[None]:
    """While a ``UnityEnvironment`` is built, start its player with stdout and stderr appended to ``log_file``.

    ``mlagents_envs`` 0.28 starts the player with its output thrown away; a game that dies before Unity opens its
    own ``-logFile`` (a missing library, a binary for another architecture) would leave no words behind. The
    launcher is ``mlagents_envs.env_utils.launch_executable`` with the output redirected and an executable that
    cannot be run at all (``OSError``) reported as ML-Agents reports a missing one.
    """
    from mlagents_envs import env_utils  # heavy: ML-Agents (Unity games only)
    from mlagents_envs.exception import UnityEnvironmentException  # heavy: ML-Agents (Unity games only)

    if log_file is None:
        yield
        return

    def launch(file_name: str, args: list[str]) -> subprocess.Popen:
        launch_string = env_utils.validate_environment_path(file_name)
        if launch_string is None:
            raise UnityEnvironmentException(f"Couldn't launch the {file_name} environment: no such player.")
        with log_file.open("ab") as output:
            try:
                return subprocess.Popen(
                    [launch_string, *args], start_new_session=True, stdout=output, stderr=subprocess.STDOUT
                )
            except OSError as exc:  # not executable, another architecture, a missing interpreter
                raise UnityEnvironmentException(f"The player {launch_string} cannot be executed: {exc}") from exc

    with _LAUNCH_LOCK:
        original = env_utils.launch_executable
        env_utils.launch_executable = launch
        try:
            yield
        finally:
            env_utils.launch_executable = original


def quiet_mlagents_logs() -> None:
    """ML-Agents' lines once, warnings and errors only: each of its loggers writes to stdout through its own handler
    and then again through the root logger's, and its INFO lines ("Connected new brain: ...") say nothing a user can
    act on (this module logs where each player started and its log file)."""
    library = logging.getLogger("mlagents_envs")
    library.setLevel(logging.WARNING)
    library.propagate = False


def log_tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of the player's log, or '' when there is none."""
    if path is None or not path.is_file():
        return ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


@dataclass
class UnitySession:
    """A launched player: its ``UnityEnvironment``, the worker id (port) it got, and its log file."""

    config: UnityConfig
    player: Path
    env: Any
    worker_id: int
    log_file: Path | None
    closed: bool = field(default=False)

    @property
    def port(self) -> int:
        return self.config.base_port + self.worker_id

    @classmethod
    def launch(cls, config: UnityConfig, player: Path) -> "UnitySession":
        """Start ``player`` on the first free worker id from ``config.first_worker_id()``; UnityPlayerError if not."""
        from mlagents_envs.environment import UnityEnvironment  # heavy: ML-Agents (Unity games only)
        from mlagents_envs.exception import (  # heavy: ML-Agents (Unity games only)
            UnityException,
            UnityWorkerInUseException,
        )
        from mlagents_envs.side_channel.engine_configuration_channel import (  # heavy: ML-Agents (Unity games only)
            EngineConfigurationChannel,
        )

        quiet_mlagents_logs()
        first = config.first_worker_id()
        busy: list[int] = []
        for worker_id in range(first, first + config.port_attempts):
            if not port_is_free(config.base_port + worker_id):
                # Checked here first, as mlagents does: a UnityEnvironment that fails on a busy port leaves an
                # atexit hook behind that fails noisily at exit.
                busy.append(config.base_port + worker_id)
                continue
            args = list(config.additional_args)
            user_log = "-logfile" in (arg.lower() for arg in args)  # the user's own -logFile wins
            log_file = Path(config.log_dir) / f"unity-{worker_id}.log" if config.log_dir and not user_log else None
            if log_file is not None:
                log_file.parent.mkdir(parents=True, exist_ok=True)
                args += ["-logFile", str(log_file)]
            side_channels = []
            engine = None
            if config.time_scale is not None:
                engine = EngineConfigurationChannel()
                side_channels.append(engine)
            started = time.monotonic()
            try:
                with player_output_to(log_file):
                    env = UnityEnvironment(
                        file_name=str(player),
                        worker_id=worker_id,
                        base_port=config.base_port,
                        seed=config.seed,
                        no_graphics=config.no_graphics,
                        timeout_wait=config.timeout_wait,
                        additional_args=args,
                        side_channels=side_channels,
                    )
            except UnityWorkerInUseException:
                busy.append(config.base_port + worker_id)
                log.info("port %d is busy; trying worker id %d", config.base_port + worker_id, worker_id + 1)
                continue
            except UnityException as exc:
                raise UnityPlayerError(
                    _describe(
                        f"The Unity player did not start ({type(exc).__name__}: {exc})",
                        player,
                        worker_id,
                        config,
                        log_file,
                        time.monotonic() - started,
                    )
                ) from exc
            if engine is not None:
                engine.set_configuration_parameters(time_scale=config.time_scale)
            if busy:
                log.warning(
                    "Unity ports %s were busy; player %s uses port %d", busy, player.name, config.base_port + worker_id
                )
            log.info(
                "Unity player %s started on port %d (worker id %d), log %s",
                player,
                config.base_port + worker_id,
                worker_id,
                log_file,
            )
            return cls(config, player, env, worker_id, log_file)
        raise UnityPlayerError(
            f"No free port for the Unity player {player}: ports {config.base_port + first}-"
            f"{config.base_port + first + config.port_attempts - 1} are all in use "
            "(set rl.training.config.env_config.base_port to a free range)."
        )

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` (a call into the UnityEnvironment); a dead or silent player becomes a UnityPlayerError."""
        from mlagents_envs.exception import UnityException  # heavy: ML-Agents (Unity games only)

        if self.closed:
            raise UnityPlayerError(f"The Unity player {self.player} (port {self.port}) was already closed.")
        started = time.monotonic()
        try:
            return fn()
        except UnityException as exc:
            self.close(timeout_s=2)
            raise UnityPlayerError(
                _describe(
                    f"The Unity player failed during {what} ({type(exc).__name__}: {exc})",
                    self.player,
                    self.worker_id,
                    self.config,
                    self.log_file,
                    time.monotonic() - started,
                )
            ) from exc

    def close(self, timeout_s: float | None = None) -> None:
        """Ask the player to quit, wait for it (kill it after ``timeout_s``), free the port. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        try:
            # UnityEnvironment._close(timeout) is what close() and its atexit hook run, with a shorter wait
            # (docs/ARCHITECTURE.md, "Private APIs we rely on").
            wait_s = int(timeout_s if timeout_s is not None else min(self.config.timeout_wait, 10))
            self.env._close(wait_s)  # noqa: SLF001
        except Exception as exc:  # noqa: BLE001 - closing must not mask the error that led here
            log.warning("closing the Unity player %s failed: %s", self.player, exc)
        # mlagents stops its gRPC server without waiting for it, so the port is released a moment later (longer on a
        # loaded machine); wait for it, so that a player started next gets the same worker id.
        deadline = time.monotonic() + PORT_RELEASE_WAIT_S
        while not port_is_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


PORT_RELEASE_WAIT_S = 5.0
"""How long :meth:`UnitySession.close` waits for the player's port to be released."""


def port_is_free(port: int) -> bool:
    """Whether ``port`` can be bound on localhost (the check ``mlagents``' RpcCommunicator makes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("localhost", port))
        except OSError:
            return False
    return True


def _describe(
    headline: str, player: Path, worker_id: int, config: UnityConfig, log_file: Path | None, elapsed_s: float
) -> str:
    tail = log_tail(log_file)
    lines = [
        f"{headline}.",
        f"Player: {player}; worker id {worker_id}, port {config.base_port + worker_id}; after {elapsed_s:.1f} s "
        f"(timeout_wait {config.timeout_wait} s).",
    ]
    if log_file is not None:
        lines.append(f"Player log: {log_file}" + (f"; its last lines:\n{tail}" if tail else " (empty)."))
    return "\n".join(lines)
