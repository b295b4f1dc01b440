"""Background refreshes of stale entries: a Celery task where one can run, else a thread.

A reader that finds an entry stale within its grace period (stale-while-revalidate)
takes the entry's lease in the same round trip and hands the reload here, then returns
the stale value at once. Where the refresh runs (``DISTCACHE["REFRESH_IN"]``):

- ``"auto"`` (default): on a Celery worker when the current Celery app has a broker and
  does not run tasks eagerly, and the refresh can travel (a registered model's rows, or
  a ``@cached`` module-level function whose arguments the serializer encodes); anything
  else (``get_or_set``'s loader, methods, local functions) and a failed send run on a
  thread of the reading process.
- ``"celery"``: as ``"auto"`` without looking at the Celery app.
- ``"thread"``: always a thread of the reading process.

Either way the refresh stores only while it still holds the lease and the generations
it read are current, so an invalidation during a refresh is never overwritten.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import connections

from django_distcache.conf import get_settings

if TYPE_CHECKING:
    from django_distcache.reads.readthrough import Describe, Freshness

logger = logging.getLogger("django_distcache")

# Reloads and stores keys in this process: (keys, token, generations).
RefreshHere = Callable[[list[str], str, bytes], Any]


def uses_celery() -> bool:
    """Whether refreshes that can travel are sent to a Celery worker (see REFRESH_IN)."""
    where = get_settings().REFRESH_IN
    if where != "auto":
        return bool(where == "celery")
    from celery import current_app

    conf = current_app.conf
    return bool(conf.broker_url) and not conf.task_always_eager


def start(
    describe: Describe | None,
    here: RefreshHere,
    keys: list[str],
    token: str,
    generations: bytes,
    policy: Freshness,
) -> None:
    """Refresh ``keys`` (their leases held by ``token``) on a worker or a thread.

    NOTE: sending the task is one broker round trip, paid by the reader that took the
    lease (once per entry and expiry, not per read).
    """
    job = describe(keys) if describe is not None and uses_celery() else None
    if job is not None:
        from django_distcache.tasks import refresh_entries

        job.update(keys=keys, token=token, generations=generations.decode())
        # Stored as the reader's process would store it, whatever the worker's settings.
        job["policy"] = [policy.stale_ms, policy.slide_ms, policy.max_age_ms]
        conf = get_settings()
        try:
            refresh_entries.apply_async(
                args=[job], queue=conf.WRITE_BEHIND_QUEUE, expires=conf.LEASE_TIMEOUT
            )
            return
        except Exception as error:  # the broker is down: refresh here instead
            logger.warning("django_distcache refreshes on a thread, the broker failed: %r", error)
    threading.Thread(target=_in_thread, args=(here, keys, token, generations), daemon=True).start()


def _in_thread(here: RefreshHere, keys: list[str], token: str, generations: bytes) -> None:
    try:
        here(keys, token, generations)
    except Exception:
        logger.exception("django_distcache could not refresh %d entries", len(keys))
    finally:
        connections.close_all()


def encode_call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """A function call's arguments as task-safe text, or None if the serializer refuses."""
    from django_distcache.reads.readthrough import serializer

    try:
        data = serializer().dumps([list(args), kwargs])
    except (TypeError, ValueError):
        return None
    return base64.b64encode(data).decode()


def run(job: dict[str, Any]) -> int:
    """Refresh what ``job`` describes (on a worker); how many entries were reloaded."""
    from django.apps import apps
    from django.utils.module_loading import import_string

    from django_distcache.reads import functions, objects, readthrough
    from django_distcache.registry import get_config

    keys, token = job["keys"], job["token"]
    generations = job["generations"].encode()
    policy = readthrough.Freshness(*job["policy"])
    if job["kind"] == "objects":
        config = get_config(apps.get_model(job["model"]))
        by_base = dict(zip(keys, job["pks"], strict=True))
        load = objects.rows_loader(config, job["using"], by_base)
        readthrough.load_and_store(
            config.namespace,
            config.generation_keys,
            keys,
            token,
            generations,
            load,
            lambda value: objects._encode_instance(config, value),
            policy,
        )
        return len(keys)
    function = import_string(job["function"])
    args, kwargs = readthrough.serializer().loads(base64.b64decode(job["call"]))
    if not isinstance(function, functions.CachedFunction):
        raise TypeError(f"{job['function']} is not a @cached function")
    function.refresh(keys, token, generations, tuple(args), kwargs, policy)
    return len(keys)
