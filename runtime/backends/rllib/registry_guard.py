"""Ray Tune's env and trainable registry kept consistent while Ray starts in another thread.

Ray's ``ray.tune.registry._global_registry`` keeps what is registered before ``ray.init`` in a plain dict and copies
it into Ray's key-value store from a post-init hook of ``ray.init``; once the store is reachable, ``register`` copies
it itself and lookups read the store. rlrt starts Ray in a background thread (:class:`runtime.backends.rllib.
ray_process.EarlyRayStart`) while the main thread imports RLlib (which registers its algorithms) and runs a SageMaker
RL script's ``register_env_creator()`` (``register_env``). A registration in the middle of ``ray.init`` then fails:
``RuntimeError: dictionary changed size during iteration`` (two copies of the dict at once), or ``Perhaps you called
ray.init twice by accident?`` (the store is reachable, the driver not yet connected: Ray starts a second instance).

:func:`registry_guarded_while_starting` wraps that ``ray.init``: while it runs, registrations wait in the dict and
lookups answer from it (or wait for the start to end), and the dict is copied once, by the post-init hook or at the
end; before and after, the registry works as Ray wrote it.
"""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_LOCK = threading.RLock()
_IDLE = threading.Event()
"""Set when no early ``ray.init`` is under way."""
_IDLE.set()
_GUARDED = "_rlrt_guarded"


@contextmanager
def registry_guarded_while_starting() -> Iterator[None]:
    """Run a ``ray.init`` in this thread while other threads may register or look up Tune's envs and trainables.

    Ray Tune is not imported here (~1.4 s, which delayed Ray's start by as much while the main thread imports it
    for RLlib anyway): a registry that exists is guarded at once, one created meanwhile (``ray.tune.registry``
    imported by the main thread during the start) as it hands Ray its post-init hook, before anything can register.
    """
    import ray  # heavy: Ray (~1 s)
    import ray._private.worker as ray_worker  # heavy: Ray

    with _LOCK:
        _IDLE.clear()
        target = getattr(sys.modules.get(_REGISTRY_MODULE), "_global_registry", None)  # None: not (fully) imported
        if target is not None:
            _guard(target)
        if not isinstance(ray_worker._post_init_hooks, _GuardingHooks):
            ray_worker._post_init_hooks = _GuardingHooks(ray_worker._post_init_hooks)
    try:
        yield
    finally:
        with _LOCK:
            registry = sys.modules.get(_REGISTRY_MODULE)
            target = getattr(registry, "_global_registry", None)
            if getattr(target, _GUARDED, False) and target._to_flush and ray.is_initialized():
                target._rlrt_flush()  # registered after the post-init hook copied the dict
            _IDLE.set()


_REGISTRY_MODULE = "ray.tune.registry"


class _GuardingHooks(list):
    """``ray._private.worker._post_init_hooks``, which guards the registry that ``ray.tune.registry`` creates when
    that module appends the registry's flush to it (the module's last line, before anything registers)."""

    def append(self, hook: Any) -> None:
        target = getattr(hook, "__self__", None)
        if getattr(hook, "__name__", "") == "flush_values" and type(target).__module__ == _REGISTRY_MODULE:
            with _LOCK:
                _guard(target, hook)
            return  # _guard put its own hook in the list
        super().append(hook)


def _guard(target: Any, appending: Any = None) -> None:
    """Wrap ``target``'s (Ray Tune's global registry) methods (once); ``appending``: its flush, which Ray's registry
    module is appending to the post-init hooks right now (else it is in the list already)."""
    import ray._private.worker as ray_worker  # heavy: Ray
    import ray.cloudpickle as pickle  # heavy: Ray

    if getattr(target, _GUARDED, False):
        return
    registry = sys.modules[type(target).__module__]
    original_flush, register, contains, get = target.flush_values, target.register, target.contains, target.get

    def flush() -> None:  # Ray's flush_values over a snapshot: a registration that lands meanwhile (a thread
        target._register_atexit()  # that reached the dict without the lock) waits for the next flush, and
        for (category, key), value in list(target._to_flush.items()):  # is never lost or a RuntimeError
            registry._internal_kv_put(registry._make_key(target.prefix, category, key), value, overwrite=True)
            target._registered.add((category, key))
            if target._to_flush.get((category, key)) is value:
                target._to_flush.pop((category, key), None)

    def hook_flush() -> None:  # ray.init's post-init hook, in the starting thread: the driver is connected
        with _LOCK:
            flush()

    def deferred_flush() -> None:  # what `register` calls once the store is reachable
        with _LOCK:
            if _IDLE.is_set():
                flush()

    def locked_register(category: str, key: str, value: Any) -> None:
        with _LOCK:  # the dict is never written while the post-init hook copies it
            register(category, key, value)

    def pending_or_wait(category: str, key: str, found: Any, lookup: Any) -> Any:
        while True:
            with _LOCK:
                if _IDLE.is_set():
                    return lookup(category, key)
                if (category, key) in target._to_flush:
                    return found(target._to_flush[(category, key)])
            _IDLE.wait()

    target._rlrt_flush = flush
    target.flush_values = deferred_flush
    target.register = locked_register
    target.contains = lambda category, key: pending_or_wait(category, key, lambda _: True, contains)
    target.get = lambda category, key: pending_or_wait(category, key, pickle.loads, get)
    hooks = ray_worker._post_init_hooks
    if appending is not None:
        list.append(hooks, hook_flush)
    else:
        hooks[:] = [hook_flush if hook == original_flush else hook for hook in hooks]
    setattr(target, _GUARDED, True)
