"""``rl_coach.base_parameters``: the parameter base class and the agent, network, visualization, validation and task
parameters, with the names and defaults of Coach's ``rl_coach/base_parameters.py``."""

from __future__ import annotations

import inspect
from enum import Enum
from typing import Any

from rl_coach.core_types import (
    EnvironmentSteps,
    GradientClippingMethod,
    MaxDumpFilter,
    RunPhase,
    SelectedPhaseOnlyDumpFilter,
    TrainingSteps,
)
from rl_coach._where import Recorded, record_where
from rl_coach.filters.filter import NoInputFilter


class Frameworks(Enum):
    tensorflow = "TensorFlow"
    mxnet = "MXNet"


class EmbedderScheme(Enum):
    Empty = "Empty"
    Shallow = "Shallow"
    Medium = "Medium"
    Deep = "Deep"


class MiddlewareScheme(Enum):
    Empty = "Empty"
    Shallow = "Shallow"
    Medium = "Medium"
    Deep = "Deep"


class EmbeddingMergerType(Enum):
    Concat = 0
    Sum = 1


class RunType(Enum):
    ORCHESTRATOR = "orchestrator"
    TRAINER = "trainer"
    ROLLOUT_WORKER = "rollout-worker"

    def __str__(self) -> str:
        return self.value


class DeviceType(Enum):
    CPU = "cpu"
    GPU = "gpu"


class DistributedCoachSynchronizationType(Enum):
    """How distributed Coach's trainer and rollout workers wait for each other (None: not distributable)."""

    SYNC = "sync"
    ASYNC = "async"


class Parameters(Recorded):
    """A group of parameters. As in Coach, a parameter exists once a constructor set it: assigning an unknown name
    anywhere else is a ``TypeError`` (a misspelt name in a preset fails instead of being ignored);
    :meth:`register_var` adds one on purpose. Where a preset set each one is kept (:meth:`rlrt_where`) for
    rlrt's messages about its values."""

    def __setattr__(self, key: str, value: Any) -> None:
        caller = inspect.currentframe()
        caller = caller.f_back if caller is not None else None
        if (caller is None or caller.f_code.co_name != "__init__") and not hasattr(self, key):
            raise TypeError(
                f"Parameter '{key}' does not exist in {self.__class__}. Parameters are only to be "
                "defined in a constructor of a class inheriting from Parameters. In order to explicitly "
                "register a new parameter outside of a constructor use register_var()."
            )
        object.__setattr__(self, key, value)
        record_where(self, key)

    def register_var(self, key: str, value: Any) -> None:
        """Add the parameter ``key`` (a ``TypeError`` when it exists)."""
        if hasattr(self, key):
            raise TypeError(f"Cannot register an already existing parameter '{key}'. ")
        object.__setattr__(self, key, value)
        record_where(self, key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class AlgorithmParameters(Parameters):
    def __init__(self) -> None:
        self.use_accumulated_reward_as_measurement = False
        self.num_consecutive_playing_steps = EnvironmentSteps(1)
        self.num_consecutive_training_steps = 1
        self.heatup_using_network_decisions = False
        self.discount = 0.99
        self.apply_gradients_every_x_episodes = 5
        self.num_steps_between_copying_online_weights_to_target = TrainingSteps(0)
        self.rate_for_copying_weights_to_target = 1.0
        self.load_memory_from_file_path = None
        self.store_transitions_only_when_episodes_are_terminated = False
        self.in_action_space = None
        self.share_statistics_between_workers = True
        self.n_step = -1  # the total return (no bootstrap)
        self.distributed_coach_synchronization_type = None
        self.act_for_full_episodes = False
        self.supports_parameter_noise = False
        self.override_episode_rewards_with_the_last_transition_reward = False
        self.update_pre_network_filters_state_on_train = False
        self.update_pre_network_filters_state_on_inference = True


class PresetValidationParameters(Parameters):
    def __init__(
        self,
        test: bool = False,
        min_reward_threshold: float = 0,
        max_episodes_to_achieve_reward: int = 1,
        num_workers: int = 1,
        reward_test_level: Any = None,
        test_using_a_trace_test: bool = True,
        trace_test_levels: Any = None,
        trace_max_env_steps: int = 5000,
        read_csv_tries: int = 200,
    ) -> None:
        self.test = test
        self.min_reward_threshold = min_reward_threshold
        self.max_episodes_to_achieve_reward = max_episodes_to_achieve_reward
        self.num_workers = num_workers
        self.reward_test_level = reward_test_level
        self.test_using_a_trace_test = test_using_a_trace_test
        self.trace_test_levels = trace_test_levels
        self.trace_max_env_steps = trace_max_env_steps
        self.read_csv_tries = read_csv_tries


class NetworkParameters(Parameters):
    def __init__(
        self,
        force_cpu: bool = False,
        async_training: bool = False,
        shared_optimizer: bool = True,
        scale_down_gradients_by_number_of_workers_for_sync_training: bool = True,
        clip_gradients: float | None = None,
        gradients_clipping_method: GradientClippingMethod = GradientClippingMethod.ClipByGlobalNorm,
        l2_regularization: float = 0,
        learning_rate: float = 0.00025,
        learning_rate_decay_rate: float = 0,
        learning_rate_decay_steps: int = 0,
        input_embedders_parameters: dict | None = None,
        embedding_merger_type: EmbeddingMergerType = EmbeddingMergerType.Concat,
        middleware_parameters: Any = None,
        heads_parameters: list | None = None,
        use_separate_networks_per_head: bool = False,
        optimizer_type: str = "Adam",
        optimizer_epsilon: float = 0.0001,
        adam_optimizer_beta1: float = 0.9,
        adam_optimizer_beta2: float = 0.99,
        rms_prop_optimizer_decay: float = 0.9,
        batch_size: int = 32,
        replace_mse_with_huber_loss: bool = False,
        create_target_network: bool = False,
        tensorflow_support: bool = True,
        softmax_temperature: float = 1,
    ) -> None:
        self.framework = Frameworks.tensorflow
        self.sess = None
        self.force_cpu = force_cpu
        self.async_training = async_training
        self.shared_optimizer = shared_optimizer
        self.scale_down_gradients_by_number_of_workers_for_sync_training = (
            scale_down_gradients_by_number_of_workers_for_sync_training
        )
        self.clip_gradients = clip_gradients
        self.gradients_clipping_method = gradients_clipping_method
        self.l2_regularization = l2_regularization
        self.learning_rate = learning_rate
        self.learning_rate_decay_rate = learning_rate_decay_rate
        self.learning_rate_decay_steps = learning_rate_decay_steps
        # Coach's defaults were shared mutable objects ({} and []); each network gets its own here.
        self.input_embedders_parameters = {} if input_embedders_parameters is None else input_embedders_parameters
        self.embedding_merger_type = embedding_merger_type
        self.middleware_parameters = middleware_parameters
        self.heads_parameters = [] if heads_parameters is None else heads_parameters
        self.use_separate_networks_per_head = use_separate_networks_per_head
        self.optimizer_type = optimizer_type
        self.replace_mse_with_huber_loss = replace_mse_with_huber_loss
        self.create_target_network = create_target_network
        self.tensorflow_support = tensorflow_support
        self.optimizer_epsilon = optimizer_epsilon
        self.adam_optimizer_beta1 = adam_optimizer_beta1
        self.adam_optimizer_beta2 = adam_optimizer_beta2
        self.rms_prop_optimizer_decay = rms_prop_optimizer_decay
        self.batch_size = batch_size
        self.softmax_temperature = softmax_temperature


class NetworkComponentParameters(Parameters):
    def __init__(self, dense_layer: Any) -> None:
        self.dense_layer = dense_layer


class VisualizationParameters(Parameters):
    def __init__(
        self,
        print_networks_summary: bool = False,
        dump_csv: bool = True,
        dump_signals_to_csv_every_x_episodes: int = 5,
        dump_gifs: bool = False,
        dump_mp4: bool = False,
        video_dump_methods: list | None = None,
        dump_in_episode_signals: bool = False,
        dump_parameters_documentation: bool = True,
        render: bool = False,
        native_rendering: bool = False,
        max_fps_for_human_control: int = 10,
        tensorboard: bool = False,
        add_rendered_image_to_env_response: bool = False,
    ) -> None:
        if video_dump_methods is None:
            video_dump_methods = [SelectedPhaseOnlyDumpFilter(RunPhase.TEST), MaxDumpFilter()]
        self.print_networks_summary = print_networks_summary
        self.dump_csv = dump_csv
        self.dump_gifs = dump_gifs
        self.dump_mp4 = dump_mp4
        self.dump_signals_to_csv_every_x_episodes = dump_signals_to_csv_every_x_episodes
        self.dump_in_episode_signals = dump_in_episode_signals
        self.dump_parameters_documentation = dump_parameters_documentation
        self.render = render
        self.native_rendering = native_rendering
        self.max_fps_for_human_control = max_fps_for_human_control
        self.tensorboard = tensorboard
        self.video_dump_filters = video_dump_methods  # Coach's name for the argument video_dump_methods
        self.add_rendered_image_to_env_response = add_rendered_image_to_env_response


class AgentParameters(Parameters):
    """An agent: its ``algorithm``, ``exploration`` (or a dict action-space class -> exploration), ``memory`` and
    ``network_wrappers`` (network name -> :class:`NetworkParameters`)."""

    def __init__(
        self,
        algorithm: AlgorithmParameters,
        exploration: Any,
        memory: Any,
        networks: dict[str, NetworkParameters],
        visualization: VisualizationParameters | None = None,
    ) -> None:
        self.visualization = VisualizationParameters() if visualization is None else visualization
        self.algorithm = algorithm
        self.exploration = exploration
        self.memory = memory
        self.network_wrappers = networks
        self.input_filter = None
        self.output_filter = None
        self.pre_network_filter = NoInputFilter()
        self.full_name_id = None
        self.name = None
        self.is_a_highest_level_agent = True
        self.is_a_lowest_level_agent = True
        self.task_parameters = None
        self.is_batch_rl_training = False


class TaskParameters(Parameters):
    def __init__(
        self,
        framework_type: Frameworks = Frameworks.tensorflow,
        evaluate_only: int | None = None,
        use_cpu: bool = False,
        experiment_path: str = "/tmp",
        seed: int | None = None,
        checkpoint_save_secs: int | None = None,
        checkpoint_restore_dir: str | None = None,
        checkpoint_restore_path: str | None = None,
        checkpoint_save_dir: str | None = None,
        export_onnx_graph: bool = False,
        apply_stop_condition: bool = False,
        num_gpu: int = 1,
    ) -> None:
        self.framework_type = framework_type
        self.task_index = 0
        self.evaluate_only = evaluate_only
        self.use_cpu = use_cpu
        self.experiment_path = experiment_path
        self.checkpoint_save_secs = checkpoint_save_secs
        # Coach's deprecated checkpoint_restore_dir sets checkpoint_restore_path
        self.checkpoint_restore_path = checkpoint_restore_dir or checkpoint_restore_path
        self.checkpoint_save_dir = checkpoint_save_dir
        self.seed = seed
        self.export_onnx_graph = export_onnx_graph
        self.apply_stop_condition = apply_stop_condition
        self.num_gpu = num_gpu
