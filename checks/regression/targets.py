"""The regression check's targets: each built once, behind the response cache, a recorder (--record) or a
cassette, with what a replayed answer must match to count for it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gate.context import CheckContext
from gate.errors import CheckIncomplete
from gate.providers.base import Provider, Request, Response
from gate.render.words import counted

from .config import RegressionConfig
from .evidence import Replay
from .suites import Suite


class CassetteDefects(Exception):
    """A cassette with lines the replay cannot use: findings at those lines (the check fails, nothing runs)."""

    def __init__(self, display: str, defects: Sequence[Any]) -> None:
        super().__init__(f"{display}: {counted(len(defects), 'defective line')}")
        self.display, self.defects = display, list(defects)


class Targets:
    """Each distinct target built once, behind the response cache (live targets) or a recorder (--record)."""

    def __init__(self, ctx: CheckContext, cfg: RegressionConfig) -> None:
        self.ctx, self.cfg = ctx, cfg
        self.record = bool(ctx.options.get("record"))
        self.no_cache = bool(ctx.options.get("no_cache"))
        self.built: dict[str, Provider] = {}
        self.views: dict[str, Provider] = {}
        self.under: dict[int, Provider] = {}  # a view's cassette, by the view's id
        self.recorders: dict[Path, Any] = {}
        self.caches: list[Any] = []
        self._models: Any = None
        self._tracked: frozenset[Path] | None = None

    def tracked(self) -> frozenset[Path]:
        """Cache files git tracks, listed once per run: never read (a pull request could plant answers)."""
        if self._tracked is None:
            from gate.providers.cache import tracked_files

            self._tracked = tracked_files(self.cfg.cache) if self.cfg.cache is not None and not self.no_cache \
                else frozenset()
        return self._tracked

    def models(self) -> Any:
        if self._models is None and self.ctx.config.models_path is not None:
            from gate.models import load_models

            self._models = load_models(self.ctx.config.models_path, self.ctx.display(self.ctx.config.models_path))
        return self._models

    def get(self, spec: Mapping[str, Any], at: Sequence[str | int], live: Mapping[str, Any] | None) -> Provider:
        """The provider of spec. Under --record a replay target is replaced by `live`, its recording source."""
        # Under --record, answers and the judge's grades may share a cassette but never a source.
        key = json.dumps([spec, live] if self.record else spec, sort_keys=True)
        if key in self.built:
            return self.built[key]
        from gate.providers.cache import CachedProvider
        from gate.providers.cassette import Recorder, ReplayProvider
        from gate.providers.factory import TargetUnavailable, build_provider
        from gate.providers.spec import TargetError

        record_to: Path | None = None
        source = spec
        if self.record and "replay" in spec:
            if live is None:
                raise self.ctx.config.error(list(at), "--record: this replay target has no live source to record from "
                                            "(a prompt file with `model:`)")
            record_to, source = self.ctx.config.resolve(str(spec["replay"]), *at, "replay", must_exist=False), live
        elif self.record:
            record_to = self.cfg.record
        try:
            provider = build_provider(source, self.models(), self.ctx.config.root, os.environ)
        except TargetUnavailable as exc:
            raise CheckIncomplete(f"regression: {exc}") from None
        except TargetError as exc:
            raise self.ctx.config.error(list(at), str(exc)) from None
        if isinstance(provider, ReplayProvider) and provider.defects:
            raise CassetteDefects(self.ctx.display(provider.path), provider.defects)
        if "replay" not in source and self.cfg.cache is not None:
            enabled = not self.no_cache and not self.record
            cached = CachedProvider(provider, self.cfg.cache, enabled=enabled,
                                    tracked=self.tracked() if enabled else frozenset())
            self.caches.append(cached)
            provider = cached
        if record_to is not None:
            recorder = self.recorders.get(record_to)
            if recorder is None:
                recorder = self.recorders[record_to] = Recorder(provider, record_to, merge=True)
            else:  # a second target recorded into the same cassette
                recorder = _SharedRecorder(recorder, provider)
            provider = recorder
        self.built[key] = provider
        return provider

    def save(self) -> list[str]:
        out = []
        for path, recorder in sorted(self.recorders.items()):
            recorder.save()
            out.append(self.ctx.display(path))
        return out

    @property
    def tracked_count(self) -> int:
        """Tracked cache files a cache of this run would have read (0 when nothing read the cache)."""
        return len(self._tracked or ())

    @property
    def cache_hits(self) -> int:
        return sum(int(c.hits) for c in self.caches)

    def seen_by(self, provider: Provider, replay: Replay | None) -> Provider:
        """A replayed provider as one target sees it: of the answers a cassette holds for a request (one per
        producer), the one that target's model could have given. Built once per cassette and target."""
        from gate.providers.cassette import ReplayProvider

        if replay is None or replay.links is None or not isinstance(provider, ReplayProvider):
            return provider
        key = json.dumps([id(provider), replay.links, replay.sent], sort_keys=True, default=str)
        if key not in self.views:
            self.views[key] = provider.choosing(replay.accepts)
            self.under[id(self.views[key])] = provider
        return self.views[key]

    def replay(self, provider: Provider, live: Mapping[str, Any] | None, suite: str,
               sent: Mapping[str, Any] | None = None) -> Replay | None:
        """What a replayed answer of `provider` must match: the producers a live run of `live` could answer
        with, called with `sent` (the requests' own parameters) over their own. None when the provider does
        not replay (live, or re-recording)."""
        from gate.providers.cassette import ReplayProvider
        from gate.providers.factory import model_links
        from gate.providers.spec import TargetError

        provider = self.under.get(id(provider), provider)
        if not isinstance(provider, ReplayProvider):
            return None
        links: tuple[tuple[str, Mapping[str, Any]], ...] | None = None
        if live is not None:
            try:
                links = tuple(model_links(str(live["model"]), self.models()))
            except TargetError:
                links = None  # no model a live run could call: nothing to compare the recordings with
        return Replay(self.ctx.display(provider.path), links, provider.recorded(suite), dict(sent or {}))

    def held(self, provider: Provider, suite: Suite, cases: Sequence[int]) -> bool:
        """Whether the cassette `provider` replays holds any of these cases of the suite, asked with whatever
        prompt and parameters (their inputs recorded): a suite whose prompt changed, not one never recorded."""
        from gate.providers.cassette import ReplayProvider

        under = self.under.get(id(provider), provider)
        if not isinstance(under, ReplayProvider):
            return False
        return under.recorded(suite.name, (r.variables for ci in cases for r in suite.requests_for(suite.cases[ci])[:1]))


class _SharedRecorder:
    """Records another provider's answers into an existing Recorder's cassette."""

    def __init__(self, recorder: Any, provider: Provider) -> None:
        self.recorder, self.provider = recorder, provider

    def identity(self) -> Mapping[str, Any]:
        return self.provider.identity()

    def complete(self, request: Request) -> Response:
        response: Response = self.recorder.record_from(self.provider, self.provider.identity(), request)
        return response
