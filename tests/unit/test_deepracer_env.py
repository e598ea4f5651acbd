"""DeepRacer environment: tracks and their validation, reward params against hand-computed geometry, the reward
contract's errors, sensors, and how each race type's episodes end."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from envs.deepracer.car import Car, CarState
from envs.deepracer.env import DeepRacerConfigError, DeepRacerEnv, RaceSettings
from envs.deepracer.metadata import MetadataError, parse_metadata
from envs.deepracer.reward import RewardFunctionError
from envs.deepracer.tracks import Track, TrackError, builtin_tracks, load_track

HALF_WHEELBASE = 0.0825
OBS = {"sensor": ["observation"]}


def square_track() -> np.ndarray:
    """A 10 m square centre line with a waypoint every metre, counterclockwise, 1 m wide."""
    pts = [(float(i), 0.0) for i in range(10)] + [(10.0, float(i)) for i in range(10)]
    pts += [(10.0 - i, 10.0) for i in range(10)] + [(0.0, 10.0 - i) for i in range(10)]
    center = np.array(pts)
    inner = np.clip(center, 0.5, 9.5)
    outer = np.where(center <= 0.0, -0.5, np.where(center >= 10.0, 10.5, center))
    # outer corners move out diagonally; straights move out perpendicular
    rows = np.hstack([center, inner, outer])
    return np.vstack([rows, rows[:1]])


@pytest.fixture
def square(tmp_path: Path) -> Path:
    path = tmp_path / "square.npy"
    np.save(path, square_track())
    return path


def place(env: DeepRacerEnv, front_x: float, front_y: float, heading_deg: float) -> None:
    yaw = math.radians(heading_deg)
    agent = env.agents[0]
    agent.car = Car(CarState(front_x - HALF_WHEELBASE * math.cos(yaw), front_y - HALF_WHEELBASE * math.sin(yaw), yaw))


def test_shipped_tracks_load_in_both_directions() -> None:
    names = builtin_tracks()
    for name in ("oval", "oval_cw", "curvy_loop", "curvy_loop_cw", "hairpins", "hairpins_cw"):
        assert name in names
        track = load_track(name)
        assert track.array.shape[1] == 6 and np.allclose(track.array[0], track.array[-1])
        assert track.direction == ("clockwise" if name.endswith("_cw") else "counterclockwise")
    assert load_track("curvy_loop").length > 30


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: a[:, :4], "shape"),
        (lambda a: a[:-5], "not a closed loop"),
        (lambda a: a[:, [0, 1, 4, 5, 2, 3]], "swapped"),
        (lambda a: np.where(np.arange(len(a))[:, None] == 3, a + [5, 5, 0, 0, 0, 0], a), "not between"),
        (lambda a: np.where(np.isfinite(a) & (np.arange(len(a))[:, None] == 2), np.nan, a), "non-finite"),
    ],
)
def test_bad_tracks_are_named_errors(mutate, message: str) -> None:
    with pytest.raises(TrackError, match=message):
        Track(mutate(square_track()), "mine")


def test_unknown_track_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(TrackError, match="reInvent2019_track.*Shipped tracks: .*oval"):
        load_track("reInvent2019_track", (tmp_path,))
    np.save(tmp_path / "reInvent2019_track.npy", square_track())
    assert load_track("reInvent2019_track", (tmp_path,)).length == pytest.approx(40.0)


def test_params_match_hand_computed_geometry(square: Path) -> None:
    env = DeepRacerEnv({"world_name": str(square), "model_metadata": OBS})
    env.reset(seed=0)
    place(env, 3.3, 0.2, 10.0)
    p = env._params(env.agents[0], 0, -15.0, 0.6)
    assert p["x"] == pytest.approx(3.3) and p["y"] == pytest.approx(0.2)
    assert p["heading"] == pytest.approx(10.0)
    assert p["distance_from_center"] == pytest.approx(0.2)
    assert p["is_left_of_center"] is True  # driving +x counterclockwise: +y is left
    assert p["closest_waypoints"] == [3, 4]
    assert p["projection_distance"] == pytest.approx(3.3)
    assert p["track_width"] == pytest.approx(1.0)
    assert p["track_length"] == pytest.approx(40.0)
    assert p["all_wheels_on_track"] is True and p["is_offtrack"] is False
    assert p["speed"] == 0.6 and p["steering_angle"] == -15.0
    assert len(p["waypoints"]) == 41 and p["waypoints"][4] == [4.0, 0.0]
    assert p["closest_objects"] == [0, 0] and p["objects_location"] == [] and p["object_in_camera"] is False

    # on the second side (x = 10, driving +y), right of centre by 0.3 m, facing -170 deg
    place(env, 10.3, 5.5, -170.0)
    p = env._params(env.agents[0], 0, 0.0, 1.0)
    assert p["distance_from_center"] == pytest.approx(0.3)
    assert p["is_left_of_center"] is False
    assert p["closest_waypoints"] == [15, 16]
    assert p["projection_distance"] == pytest.approx(15.5)
    assert p["heading"] == pytest.approx(-170.0)

    # the last segment's next waypoint is the closing row (index 40)
    place(env, 0.0, 0.5, -90.0)
    p = env._params(env.agents[0], 0, 0.0, 1.0)
    assert p["closest_waypoints"] == [39, 40]
    assert p["projection_distance"] == pytest.approx(39.5)

    # half the wheels over the border: not all on track, not off track; all over: off track
    place(env, 5.0, -0.45, 0.0)
    p = env._params(env.agents[0], 0, 0.0, 1.0)
    assert p["all_wheels_on_track"] is False and p["is_offtrack"] is False
    place(env, 5.0, -0.8, 0.0)
    p = env._params(env.agents[0], 0, 0.0, 1.0)
    assert p["is_offtrack"] is True


def test_progress_counts_from_the_episode_start(square: Path) -> None:
    env = DeepRacerEnv(
        {
            "world_name": str(square),
            "model_metadata": {"sensor": ["observation"], "action_space": [{"steering_angle": 0, "speed": 1.5}]},
            "change_start_position": False,
        }
    )
    env.reset(seed=0)
    for _ in range(15):  # one second at ~1.5 m/s (speed follows the command with a 0.1 s lag)
        _, reward, term, trunc, info = env.step(0)
    moved = env.agents[0].car.front[0] - 0.0
    assert info["params"]["progress"] == pytest.approx(100 * moved / 40.0, rel=1e-6)
    assert info["params"]["steps"] == 15 and not term and not trunc
    assert reward == 1.0  # follow-the-centre-line reward on the centre line


def write_reward(tmp_path: Path, body: str) -> str:
    path = tmp_path / "reward_function.py"
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "def reward_function(params):\n    return params['no_such_key']\n",
            "raised KeyError: 'no_such_key'.*at step 1, with params .*distance_from_center",
        ),
        ("def reward_function(params):\n    return None\n", "returned None.*must return a number.*Params: "),
        ("def reward_function(params):\n    return float('inf')\n", "returned inf at step 1.*finite"),
        ("def reward_function(params):\n    return 2e5\n", "returned 200000.0 at step 1.*within"),
        ("def reward_function(params):\n    return 'high'\n", "returned 'high' \\(str\\)"),
        ("def reward_function(params):\n    return True\n", "returned True \\(bool\\)"),
    ],
)
def test_reward_function_errors_name_the_params(tmp_path: Path, body: str, message: str) -> None:
    env = DeepRacerEnv({"reward_function": write_reward(tmp_path, body), "model_metadata": OBS})
    env.reset(seed=0)
    with pytest.raises(RewardFunctionError, match=message):
        env.step(2)


def test_reward_function_file_problems(tmp_path: Path) -> None:
    with pytest.raises(RewardFunctionError, match="SyntaxError"):
        DeepRacerEnv({"reward_function": write_reward(tmp_path, "def reward_function(params:\n")})
    with pytest.raises(RewardFunctionError, match="defines no function named 'reward_function.*my_reward"):
        DeepRacerEnv({"reward_function": write_reward(tmp_path, "def my_reward(params):\n    return 1.0\n")})
    with pytest.raises(RewardFunctionError, match="does not exist"):
        DeepRacerEnv({"reward_function": str(tmp_path / "missing.py")})


def test_reward_function_gets_a_copy_and_numpy_numbers_are_fine(tmp_path: Path) -> None:
    body = (
        "import numpy as np\n"
        "def reward_function(params):\n"
        "    params['waypoints'].clear()\n"
        "    return np.float32(params['progress'] + 1)\n"
    )
    env = DeepRacerEnv({"reward_function": write_reward(tmp_path, body), "model_metadata": OBS})
    env.reset(seed=0)
    _, reward, *_ = env.step(2)
    _, reward2, _, _, info = env.step(2)
    assert reward2 > 1.0 and len(env.track.waypoints) > 100


def test_sensor_observations_match_their_spaces() -> None:
    for sensors, shape in (
        (["FRONT_FACING_CAMERA"], (120, 160, 1)),
        (["STEREO_CAMERAS"], (120, 160, 2)),
        (["LIDAR"], (64,)),
        (["SECTOR_LIDAR"], (8,)),
        (["observation"], (23,)),
    ):
        env = DeepRacerEnv({"model_metadata": {"sensor": sensors}, "race_type": "OBJECT_AVOIDANCE"})
        obs, _ = env.reset(seed=1)
        assert obs.shape == shape and env.observation_space.contains(obs), sensors
    env = DeepRacerEnv({"model_metadata": {"sensor": ["FRONT_FACING_CAMERA", "LIDAR"]}, "stack_size": 3})
    obs, _ = env.reset(seed=1)
    assert obs["FRONT_FACING_CAMERA"].shape == (120, 160, 3) and env.observation_space.contains(obs)
    camera = DeepRacerEnv({"model_metadata": {"sensor": ["FRONT_FACING_CAMERA"]}}).reset(seed=0)[0][..., 0]
    # the lower half sees dark track surface with bright border lines; the top rows are sky
    assert camera[0].min() == camera[0].max() and (camera[60:] < 60).mean() > 0.3 and camera[60:].max() > 180


def test_rgb_frames_when_built_as_videos_build_it() -> None:
    """The registry passes gymnasium's ``render_mode`` inside env_config (rollout and evaluation videos do)."""
    from envs.registry import make_env

    env = make_env("DeepRacer-v0", {"render_mode": "rgb_array", "world_name": "oval_cw"})
    assert env.render_mode == "rgb_array"
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8 and frame.max() > frame.min()
    assert DeepRacerEnv({}).render() is None  # no render_mode: no frames, as gymnasium envs do
    with pytest.raises(DeepRacerConfigError, match="render_mode must be 'rgb_array'"):
        DeepRacerEnv({"render_mode": "human"})


def drive(env: DeepRacerEnv, steer_to_lane: float | None = 0.0, max_steps: int = 3000) -> dict:
    """Steer toward a point 0.6 m ahead on the lane at lateral offset ``steer_to_lane`` (or always 15 deg left)."""
    angles = [a["steering_angle"] for a in env.model.actions]
    for _ in range(max_steps):
        agent = env.agents[0]
        st = agent.car.state
        if steer_to_lane is None:
            action = int(np.argmin([abs(a - 15.0) for a in angles]))  # a 0.6 m radius circle leaves the track
        else:
            target, _ = env.track.point_at(agent.prev_along + 0.6, steer_to_lane)
            err = math.atan2(target[1] - st.y, target[0] - st.x) - st.yaw
            err = (err + math.pi) % (2 * math.pi) - math.pi
            action = int(np.argmin([abs(math.radians(a) - err) for a in angles]))
        _, _, term, trunc, info = env.step(action)
        if term or trunc:
            return info
    raise AssertionError("the episode did not end")


def test_time_trial_ends_with_lap_complete_off_track_reversed_time_up_immobilized() -> None:
    env = DeepRacerEnv({"model_metadata": OBS, "change_start_position": False})
    env.reset(seed=0)
    info = drive(env)
    assert info["episode_status"] == "lap_complete" and info["params"]["progress"] == 100.0
    env.reset(seed=0)
    assert drive(env, None)["episode_status"] == "off_track"
    env.reset(seed=0)
    st = env.agents[0].car.state
    env.agents[0].car = Car(CarState(st.x, st.y, st.yaw + math.pi))
    for _ in range(40):
        _, _, term, _, info = env.step(2)
        if term:
            break
    assert info["episode_status"] == "reversed"
    short = DeepRacerEnv({"model_metadata": OBS, "max_steps": 5})
    short.reset(seed=0)
    results = [short.step(2) for _ in range(5)]
    assert results[-1][3] is True and results[-1][4]["episode_status"] == "time_up" and not any(r[2] for r in results)
    slow = DeepRacerEnv(
        {
            "model_metadata": {"sensor": ["observation"], "action_space": [{"steering_angle": 0, "speed": 0.1}]},
            "immobilized_steps": 5,
        }
    )
    slow.reset(seed=0)
    assert [slow.step(0) for _ in range(6)][-1][4]["episode_status"] == "immobilized"


def test_object_avoidance_collision_is_a_crash_with_the_crash_reward() -> None:
    env = DeepRacerEnv(
        {
            "model_metadata": OBS,
            "race_type": "OBJECT_AVOIDANCE",
            "NUMBER_OF_OBSTACLES": "2",
            "change_start_position": False,
        }
    )
    env.reset(seed=0)
    assert len(env.objects) == 2
    p = env.agents[0].last_params
    assert len(p["objects_location"]) == 2 and p["closest_objects"] == [1, 0] and p["object_in_camera"] in (True, False)
    assert p["objects_distance"][0] > 1.4 and p["objects_speed"] == [0.0, 0.0]
    # drive in the first obstacle's lane
    lane = env.objects[0].lateral
    info = drive(env, lane)
    assert info["episode_status"] == "crashed" and info["crash_count"] == 1
    assert env.agents[0].last_params["is_crashed"] is True
    with pytest.raises(DeepRacerConfigError, match="do not fit"):
        DeepRacerEnv({"race_type": "OBJECT_AVOIDANCE", "number_of_obstacles": 20})


def test_head_to_bot_bots_move_change_lanes_and_collisions_crash() -> None:
    env = DeepRacerEnv(
        {
            "model_metadata": OBS,
            "race_type": "HEAD_TO_BOT",
            "number_of_bot_cars": 2,
            "bot_car_speed": 0.5,
            "is_lane_change": True,
            "lower_lane_change_time": 1,
            "upper_lane_change_time": 1.5,
            "change_start_position": False,
        }
    )
    env.reset(seed=0)
    bot = env.objects[0]
    start_along, start_lane = bot.along, bot.lateral
    for _ in range(45):  # 3 s: the bot moves 1.5 m and changes lanes
        env.step(2)
        if env.agents[0].done:
            env.reset(seed=0)
            break
    assert env.objects[0].along != start_along
    assert any(np.sign(o.lateral) != np.sign(start_lane) for o in env.objects[:1]) or env.objects[0].change_left_m > 0
    env = DeepRacerEnv(
        {"model_metadata": OBS, "race_type": "HEAD_TO_BOT", "number_of_bot_cars": 1, "change_start_position": False}
    )
    env.reset(seed=0)
    assert env.agents[0].last_params["objects_speed"] == [0.2]
    info = drive(env, env.objects[0].lateral)
    assert info["episode_status"] == "crashed"


def test_settings_errors_name_the_setting() -> None:
    with pytest.raises(DeepRacerConfigError, match="RACE_TYPE must be one of"):
        RaceSettings.from_config({"RACE_TYPE": "DRAG_RACE"})
    with pytest.raises(
        DeepRacerConfigError, match="Unknown DeepRacer environment setting 'number_of_obstacle'.*number_of_obstacles"
    ):
        RaceSettings.from_config({"number_of_obstacle": 3})
    with pytest.raises(DeepRacerConfigError, match="NUMBER_OF_BOT_CARS must be a int, got 'many'"):
        RaceSettings.from_config({"NUMBER_OF_BOT_CARS": "many"})
    assert RaceSettings.from_config({"IS_LANE_CHANGE": "true", "race_type": "head_to_bot"}).is_lane_change is True


def test_model_metadata_parsing_and_errors() -> None:
    m = parse_metadata(
        {
            "action_space": {"speed": {"low": 1, "high": 2}, "steering_angle": {"low": -30, "high": 30}},
            "sensor": ["FRONT_FACING_CAMERA"],
            "action_space_type": "continuous",
        }
    )
    assert m.continuous and m.speed_range == (1.0, 2.0)
    assert parse_metadata({"action_space": [{"steering_angle": -45, "speed": 9}]}).actions[0] == {
        "steering_angle": -30.0,
        "speed": 4.0,
    }
    assert parse_metadata({}).sensors == ("observation",)
    for bad, message in (
        ({"sensor": ["RADAR"]}, "unknown sensor 'RADAR'"),
        ({"neural_network": "RESNET"}, "unknown neural_network"),
        ({"action_space": [{"steering_angle": 0}]}, r"action_space\[0\] needs"),
        ({"action_space": {"speed": {"low": 2, "high": 1}, "steering_angle": {"low": -1, "high": 1}}}, "speed low"),
    ):
        with pytest.raises(MetadataError, match=message):
            parse_metadata(bad)


def test_evaluation_resets_count_and_penalise() -> None:
    env = DeepRacerEnv({"model_metadata": OBS, "number_of_resets": 2, "phase": "evaluation"})
    env.reset(seed=0)
    info = drive(env, None)
    assert info["episode_status"] == "off_track"
    assert info["off_track_count"] == 3 and info["reset_count"] == 2
    assert info["elapsed_time_ms"] >= 4000
