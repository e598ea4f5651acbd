#!/usr/bin/env python3
"""A stand-in for a Unity ML-Agents Linux player, for tests that cannot run a real Unity build.

It sits exactly at the protocol boundary: ``mlagents_envs.environment.UnityEnvironment`` launches it the way it
launches ``Basic.x86_64`` (``<player> [-nographics -batchmode] --mlagents-port <port> [-logFile <path>] ...``), and it
connects back as the gRPC *client* of the ``UnityToExternalProto`` service, exchanging ML-Agents' own
``UnityMessageProto`` messages (communication API 1.5.0) in the order a Unity player's ``RpcCommunicator`` does:

1. ``Exchange`` the academy's initialisation output (brain parameters plus the agents' first observations);
   the reply carries the trainer's initialisation input (seed, versions, capabilities);
2. ``Exchange`` an empty message; the reply is the trainer's first command (``RESET``);
3. for every command: ``RESET`` restarts every agent, ``STEP`` applies the agents' actions and advances the game;
   the next ``Exchange`` sends the agents' infos (reward since the last decision, done, max_step_reached,
   observations) and receives the next command. A reply whose header status is not 200 (what
   ``UnityEnvironment.close()`` sends) or a ``QUIT`` command ends the player, as it ends a Unity player.

Like a Unity agent, an agent whose episode ends reports a terminal info (``done``) and, in the same output, the first
decision request of its next episode.

Games (``--game``):

* ``basic``: the ML-Agents example "Basic": one agent on a line of positions 0..20, starting at 10; a one-hot vector
  observation of size 20; one discrete branch of 3 actions (0 stay, 1 left, 2 right); -0.01 every step, +0.1 and the
  episode ends at the small goal (7), +1 and the episode ends at the large goal (17). The best return is 0.93.
  ``--max-step`` (default 100) interrupts an episode as Unity's ``Agent.MaxStep`` does (``max_step_reached``).
  ``--observations visual`` / ``both`` add (or use only) a camera-like 8x20 RGB image of the line, sent PNG-compressed
  as a Unity camera sensor sends it; ``--branches 3,2`` adds discrete branches (extra branches have no effect);
  ``--continuous N`` adds N continuous actions (a hybrid action space, as ML-Agents allows), each costing
  ``0.01 * a**2`` a step, so the best policy keeps them at 0.
* ``ball``: a 3DBall-like multi-agent game: ``--agents`` (default 12) platforms, each balancing a ball; vector
  observation of size 8 (platform tilt z and x, ball position relative to the platform, ball velocity); two
  continuous actions in [-1, 1] tilt the platform; +0.1 a step while the ball stays on, -1 and the episode ends when
  it falls off; ``--max-step`` (default 500) interrupts.

Failure modes for error tests: ``--crash-after-steps N`` exits with code 3 in the middle of an episode after N STEP
commands (``--crash-once FILE``: only when FILE does not exist yet, and FILE is created, so a restarted player
runs normally); ``--hang-after-steps N`` stops answering; ``--startup-delay S`` waits before connecting;
``--step-delay S`` slows every step. ``--record FILE`` appends every finished agent episode to FILE (record.py).

Needs only ``grpcio``, ``numpy``, ``mlagents_envs`` (its generated protobuf modules) and, for visual observations,
``Pillow``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
import time
from typing import Any, Sequence

import grpc
import numpy as np
from mlagents_envs.communicator_objects.agent_info_pb2 import AgentInfoProto
from mlagents_envs.communicator_objects.brain_parameters_pb2 import ActionSpecProto, BrainParametersProto
from mlagents_envs.communicator_objects.capabilities_pb2 import UnityRLCapabilitiesProto
from mlagents_envs.communicator_objects.command_pb2 import QUIT, RESET, STEP
from mlagents_envs.communicator_objects.header_pb2 import HeaderProto
from mlagents_envs.communicator_objects.observation_pb2 import NONE as COMPRESSION_TYPE_NONE
from mlagents_envs.communicator_objects.observation_pb2 import PNG as COMPRESSION_TYPE_PNG
from mlagents_envs.communicator_objects.observation_pb2 import ObservationProto
from mlagents_envs.communicator_objects.unity_message_pb2 import UnityMessageProto
from mlagents_envs.communicator_objects.unity_output_pb2 import UnityOutputProto
from mlagents_envs.communicator_objects.unity_rl_initialization_output_pb2 import UnityRLInitializationOutputProto
from mlagents_envs.communicator_objects.unity_rl_output_pb2 import UnityRLOutputProto
from mlagents_envs.communicator_objects.unity_to_external_pb2_grpc import UnityToExternalProtoStub
from record import EpisodeRecord, Log

COMMUNICATION_VERSION = "1.5.0"
PACKAGE_VERSION = "2.0.1-standin"
EXIT_CRASH = 3


def vector_observation(values: Sequence[float], name: str) -> ObservationProto:
    return ObservationProto(
        shape=[len(values)],
        compression_type=COMPRESSION_TYPE_NONE,
        float_data=ObservationProto.FloatData(data=list(values)),
        name=name,
    )


def png_observation(image: np.ndarray, name: str) -> ObservationProto:
    """An RGB image (H, W, 3) in [0, 1], PNG-compressed as Unity's camera sensor sends it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8), "RGB").save(buffer, format="PNG")
    return ObservationProto(
        shape=list(image.shape),
        compression_type=COMPRESSION_TYPE_PNG,
        compressed_data=buffer.getvalue(),
        name=name,
    )


class Game:
    """One behavior's agents; subclasses define the dynamics."""

    behavior_name = ""
    max_step = 0

    def __init__(self, num_agents: int, max_step: int, seed: int) -> None:
        self.num_agents = num_agents
        self.max_step = max_step
        self.rng = np.random.default_rng(seed)
        self.steps = [0] * num_agents
        self.rewards = [0.0] * num_agents
        self.pending: list[AgentInfoProto] = []
        self.record = EpisodeRecord(None, self.behavior_name)

    def action_spec(self) -> ActionSpecProto:
        raise NotImplementedError

    def observations(self, agent: int) -> list[ObservationProto]:
        raise NotImplementedError

    def reset_agent(self, agent: int) -> None:
        raise NotImplementedError

    def apply(self, agent: int, continuous: Sequence[float], discrete: Sequence[int]) -> bool:
        """Apply one action to ``agent``; add to ``self.rewards[agent]``; return whether its episode ended."""
        raise NotImplementedError

    def reset_all(self) -> None:
        self.record.reset()
        for agent in range(self.num_agents):
            self.reset_agent(agent)
            self.steps[agent] = 0
            self.rewards[agent] = 0.0
        self.pending = [self._info(agent, done=False) for agent in range(self.num_agents)]

    def step(self, actions: Sequence[Any]) -> None:
        """Apply the trainer's actions (one per agent, in the order of the last decision requests)."""
        infos: list[AgentInfoProto] = []
        for agent in range(self.num_agents):
            action = actions[agent] if agent < len(actions) else None
            continuous = list(action.continuous_actions) if action is not None else []
            discrete = list(action.discrete_actions) if action is not None else []
            before = self.rewards[agent]
            ended = self.apply(agent, continuous, discrete)
            self.steps[agent] += 1
            interrupted = not ended and self.max_step > 0 and self.steps[agent] >= self.max_step
            self.record.step(agent, self.rewards[agent] - before, ended, interrupted)
            if ended or interrupted:
                infos.append(self._info(agent, done=True, max_step_reached=interrupted))
                self.reset_agent(agent)
                self.steps[agent] = 0
                self.rewards[agent] = 0.0
            infos.append(self._info(agent, done=False))
        self.pending = infos

    def _info(self, agent: int, done: bool, max_step_reached: bool = False) -> AgentInfoProto:
        info = AgentInfoProto(
            reward=float(self.rewards[agent]),
            done=done,
            max_step_reached=max_step_reached,
            id=agent,
            observations=self.observations(agent),
        )
        self.rewards[agent] = 0.0
        return info

    def brain_parameters(self) -> BrainParametersProto:
        return BrainParametersProto(brain_name=self.behavior_name, is_training=True, action_spec=self.action_spec())


class Basic(Game):
    """The ML-Agents example "Basic" (see the module docstring)."""

    behavior_name = "Basic?team=0"
    START, SMALL_GOAL, LARGE_GOAL, MIN, MAX, EXTENTS = 10, 7, 17, 0, 20, 20

    def __init__(
        self, num_agents: int, max_step: int, seed: int, observations: str, branches: Sequence[int], continuous: int = 0
    ) -> None:
        self.kind = observations
        self.branches = list(branches)
        self.continuous = continuous
        self.position = [self.START] * num_agents
        super().__init__(num_agents, max_step, seed)

    def action_spec(self) -> ActionSpecProto:
        return ActionSpecProto(
            num_continuous_actions=self.continuous,
            num_discrete_actions=len(self.branches),
            discrete_branch_sizes=self.branches,
        )

    def reset_agent(self, agent: int) -> None:
        self.position[agent] = self.START

    def apply(self, agent: int, continuous: Sequence[float], discrete: Sequence[int]) -> bool:
        move = int(discrete[0]) if discrete else 0
        direction = {1: -1, 2: 1}.get(move, 0)
        self.position[agent] = min(self.MAX, max(self.MIN, self.position[agent] + direction))
        self.rewards[agent] -= 0.01 + 0.01 * sum(float(a) ** 2 for a in list(continuous)[: self.continuous])
        if self.position[agent] == self.SMALL_GOAL:
            self.rewards[agent] += 0.1
            return True
        if self.position[agent] == self.LARGE_GOAL:
            self.rewards[agent] += 1.0
            return True
        return False

    def observations(self, agent: int) -> list[ObservationProto]:
        position = self.position[agent]
        out = []
        if self.kind in ("visual", "both"):
            image = np.zeros((8, self.EXTENTS, 3), dtype=np.float32)
            image[:, self.SMALL_GOAL, 1] = 0.5
            image[:, self.LARGE_GOAL, 1] = 1.0
            if position < self.EXTENTS:
                image[2:6, position, 0] = 1.0
            out.append(png_observation(image, "CameraSensor"))
        if self.kind in ("vector", "both"):
            one_hot = [0.0] * self.EXTENTS
            if position < self.EXTENTS:  # ML-Agents' AddOneHotObservation leaves all zeros out of range
                one_hot[position] = 1.0
            out.append(vector_observation(one_hot, "OneHotSensor"))
        return out


class Ball(Game):
    """A 3DBall-like game: each agent tilts a platform to keep a ball on it (see the module docstring)."""

    behavior_name = "3DBall?team=0"
    DT, GRAVITY, TILT_RATE, MAX_TILT, EDGE = 0.05, 9.81, 0.04, 0.25, 3.0

    def __init__(self, num_agents: int, max_step: int, seed: int) -> None:
        self.tilt = np.zeros((num_agents, 2))
        self.ball = np.zeros((num_agents, 2))
        self.velocity = np.zeros((num_agents, 2))
        super().__init__(num_agents, max_step, seed)

    def action_spec(self) -> ActionSpecProto:
        return ActionSpecProto(num_continuous_actions=2)

    def reset_agent(self, agent: int) -> None:
        self.tilt[agent] = self.rng.uniform(-0.1, 0.1, size=2)
        self.ball[agent] = self.rng.uniform(-1.5, 1.5, size=2)
        self.velocity[agent] = 0.0

    def apply(self, agent: int, continuous: Sequence[float], discrete: Sequence[int]) -> bool:
        action = np.clip(np.asarray(list(continuous) + [0.0, 0.0], dtype=np.float64)[:2], -1.0, 1.0)
        self.tilt[agent] = np.clip(self.tilt[agent] + self.TILT_RATE * action, -self.MAX_TILT, self.MAX_TILT)
        # A tilt about z rolls the ball along x (downhill is -z tilt), a tilt about x rolls it along z.
        acceleration = self.GRAVITY * np.sin(np.array([-self.tilt[agent, 0], self.tilt[agent, 1]]))
        self.velocity[agent] += self.DT * acceleration
        self.ball[agent] += self.DT * self.velocity[agent]
        if np.any(np.abs(self.ball[agent]) > self.EDGE):
            self.rewards[agent] -= 1.0
            return True
        self.rewards[agent] += 0.1
        return False

    def observations(self, agent: int) -> list[ObservationProto]:
        tilt, ball, velocity = self.tilt[agent], self.ball[agent], self.velocity[agent]
        values = [tilt[0], tilt[1], ball[0], 4.0, ball[1], velocity[0], 0.0, velocity[1]]
        return [vector_observation([float(v) for v in values], "VectorSensor")]


def make_game(args: argparse.Namespace, seed: int) -> Game:
    if args.game == "basic":
        branches = [int(b) for b in args.branches.split(",")]
        max_step = 100 if args.max_step is None else args.max_step
        game: Game = Basic(args.agents or 1, max_step, seed, args.observations, branches, args.continuous)
    else:
        game = Ball(args.agents or 12, 500 if args.max_step is None else args.max_step, seed)
    game.record = EpisodeRecord(args.record, game.behavior_name)
    return game


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    # What UnityEnvironment passes to a player (Unity's own flags start with one dash).
    parser.add_argument("--mlagents-port", type=int, required=True)
    parser.add_argument("-logFile", "-logfile", dest="log_file")
    parser.add_argument("-nographics", action="store_true")
    parser.add_argument("-batchmode", action="store_true")
    # The stand-in's own options.
    parser.add_argument("--game", choices=("basic", "ball"), default="basic")
    parser.add_argument("--agents", type=int)
    parser.add_argument("--max-step", type=int)
    parser.add_argument("--observations", choices=("vector", "visual", "both"), default="vector")
    parser.add_argument("--branches", default="3")
    parser.add_argument("--continuous", type=int, default=0)
    parser.add_argument("--crash-after-steps", type=int)
    parser.add_argument("--crash-once")
    parser.add_argument("--hang-after-steps", type=int)
    parser.add_argument("--startup-delay", type=float, default=0.0)
    parser.add_argument("--step-delay", type=float, default=0.0)
    parser.add_argument("--connect-timeout", type=float, default=60.0)
    parser.add_argument("--record")
    args, unknown = parser.parse_known_args(argv)
    args.unknown = unknown
    return args


def _watch_parent(log: Log) -> None:
    """Exit if the trainer that launched us goes away without closing the connection (no orphaned players)."""
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            log("the trainer process is gone; quitting")
            os._exit(1)


def wrap(output: UnityOutputProto | None) -> UnityMessageProto:
    message = UnityMessageProto(header=HeaderProto(status=200))
    if output is not None:
        message.unity_output.CopyFrom(output)
    return message


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    log = Log(args.log_file)
    if args.log_file:  # like a Unity player, everything it prints (tracebacks too) goes to its log file
        handle = open(args.log_file, "a", buffering=1)
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
    log(
        f"stand-in Unity player starting: game={args.game} port={args.mlagents_port} "
        f"nographics={args.nographics} batchmode={args.batchmode} extra={args.unknown}"
    )
    threading.Thread(target=_watch_parent, args=(log,), daemon=True).start()
    if args.startup_delay:
        time.sleep(args.startup_delay)

    channel = grpc.insecure_channel(f"localhost:{args.mlagents_port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=args.connect_timeout)
    except grpc.FutureTimeoutError:
        log(f"could not connect to the trainer on port {args.mlagents_port}")
        return 1
    stub = UnityToExternalProtoStub(channel)
    game = make_game(args, seed=0)
    game.reset_all()
    init = UnityRLInitializationOutputProto(
        name="AcademySingleton",
        communication_version=COMMUNICATION_VERSION,
        package_version=PACKAGE_VERSION,
        log_path=args.log_file or "",
        brain_parameters=[game.brain_parameters()],
        capabilities=UnityRLCapabilitiesProto(
            baseRLCapabilities=True,
            concatenatedPngObservations=True,
            compressedChannelMapping=True,
            hybridActions=True,
            trainingAnalytics=True,
            variableLengthObservation=True,
            multiAgentGroups=True,
        ),
    )
    agent_infos = {game.behavior_name: UnityRLOutputProto.ListAgentInfoProto(value=game.pending)}
    try:
        reply = stub.Exchange(
            wrap(UnityOutputProto(rl_initialization_output=init, rl_output=UnityRLOutputProto(agentInfos=agent_infos)))
        )
        if reply.header.status != 200:
            log(f"the trainer refused the connection (status {reply.header.status})")
            return 1
        init_input = reply.unity_input.rl_initialization_input
        log(
            f"connected: trainer communication version {init_input.communication_version}, "
            f"package {init_input.package_version}, seed {init_input.seed}"
        )
        game = make_game(args, seed=init_input.seed)
        reply = stub.Exchange(wrap(None))
        steps = 0
        while True:
            if reply.header.status != 200:
                log(f"the trainer closed the connection (status {reply.header.status}); quitting")
                return 0
            rl_input = reply.unity_input.rl_input
            if rl_input.command == QUIT:
                log("QUIT command; quitting")
                return 0
            if rl_input.command == RESET:
                game.reset_all()
            elif rl_input.command == STEP:
                steps += 1
                if args.crash_after_steps is not None and steps >= args.crash_after_steps:
                    if not args.crash_once or not os.path.exists(args.crash_once):
                        if args.crash_once:
                            open(args.crash_once, "w").close()
                        log(f"simulated crash after {steps} steps (exit code {EXIT_CRASH})")
                        os._exit(EXIT_CRASH)
                if args.hang_after_steps is not None and steps >= args.hang_after_steps:
                    log(f"simulated hang after {steps} steps")
                    while True:
                        time.sleep(1)
                if args.step_delay:
                    time.sleep(args.step_delay)
                game.step(list(rl_input.agent_actions[game.behavior_name].value))
            infos = {game.behavior_name: UnityRLOutputProto.ListAgentInfoProto(value=game.pending)}
            reply = stub.Exchange(wrap(UnityOutputProto(rl_output=UnityRLOutputProto(agentInfos=infos))))
    except grpc.RpcError as exc:
        log(f"lost the connection to the trainer ({exc.code().name}); quitting")
        return 0
    finally:
        channel.close()


if __name__ == "__main__":
    sys.exit(main())
