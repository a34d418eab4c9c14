"""Run many requests: bounded concurrency, a shared rate limit, retries, results in input order, Ctrl-C."""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Sequence
from dataclasses import replace

from gate import warm
from gate.progress import Progress, silent
from gate.providers.base import Provider, ProviderError, Request, Response
from gate.providers.limits import Backoff, Cancelled, Limits, RateLimiter, using, with_retries

DEFAULT_CONCURRENCY = 8
DEFAULT_RETRIES = 3

Result = Response | ProviderError


def run_all(provider: Provider, requests: Sequence[Request], *, concurrency: int = DEFAULT_CONCURRENCY,
            rpm: float | None = None, retries: int = DEFAULT_RETRIES, timeout: float | None = None,
            progress: Progress | None = None, label: str = "cases", backoff: Backoff | None = None,
            seed: int | None = None) -> list[Result]:
    """Answer every request, at most `concurrency` at a time and at most `rpm` calls started per minute
    (cache hits and replays take no share). A 429, 5xx or timeout is retried up to `retries` times with
    exponential backoff and full jitter, or after the server's Retry-After; other failures are final.
    `timeout` is the per-attempt limit for requests that set none (else the target's own).

    Returns one Response or ProviderError per request, in input order. Ctrl-C stops starting calls,
    abandons the ones in flight and raises KeyboardInterrupt; a bug in a provider is re-raised here."""
    bar = progress or silent()
    total = len(requests)
    bar.start(label, total)
    if not total:
        bar.finish()
        return []
    limits = Limits(retries=max(0, retries), backoff=backoff or Backoff(), limiter=RateLimiter(rpm),
                    rng=random.Random(seed))
    results: list[Result | None] = [None] * total
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(total):
        todo.put(i)
    finished: queue.SimpleQueue[int | BaseException] = queue.SimpleQueue()

    def work() -> None:
        with using(limits):
            while not limits.cancel.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                request = requests[i]
                if timeout is not None and request.timeout_s is None:
                    request = replace(request, timeout_s=timeout)
                try:
                    results[i] = with_retries(lambda r=request: provider.complete(r))  # type: ignore[misc]
                except ProviderError as exc:
                    results[i] = exc
                except Cancelled:
                    return
                except BaseException as exc:  # a bug in a provider: stop everything and raise it to the caller
                    limits.cancel.set()
                    finished.put(exc)
                    return
                finished.put(i)

    workers = [threading.Thread(target=work, daemon=True, name=f"prodgate-worker-{n}")
               for n in range(max(1, min(concurrency, total)))]
    for w in workers:
        w.start()
    warm.now()  # this thread would only wait: modules needed after the answers are imported meanwhile
    try:
        done = 0
        while done < total:
            try:
                item = finished.get(timeout=0.2)  # a timeout, so Ctrl-C reaches this thread promptly
            except queue.Empty:
                if not any(w.is_alive() for w in workers) and finished.empty():
                    raise RuntimeError("the workers stopped before every request was answered") from None
                continue
            if isinstance(item, BaseException):
                raise item
            done += 1
            bar.advance(1)
    except BaseException:
        limits.cancel.set()
        for w in workers:  # a moment for command targets to kill their programs
            w.join(timeout=1.0 / len(workers))
        raise
    finally:
        bar.finish()
    return [r for r in results if r is not None]
