"""deepeval metrics, judged by a models.yaml model through prodgate's own provider layer.

deepeval is imported only here, only when a suite configures a deepeval metric, with its telemetry
and .env autoloading switched off first. The judge is an adapter (a DeepEvalBaseLLM) that sends
deepeval's prompts through the same providers, retries and cache as every other request, so
deepeval never needs an API key of its own."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from gate.providers import limits
from gate.providers.base import Category, ChatMessage, Provider, ProviderError, Request, Response
from gate.redact import clip

from .evidence import Replay, gap_of
from .metrics import Score

# Short names accepted in gate.yaml, beside deepeval's own class names.
_ALIASES = {"GEval": "GEval", "G-Eval": "GEval"}
_TEST_CASE_FIELDS = ("input", "actual_output", "expected_output", "context", "retrieval_context")


def _import_deepeval() -> Any:
    # Set, not defaulted: an inherited "0" would switch them back on.
    os.environ["DEEPEVAL_TELEMETRY_OPT_OUT"] = "1"
    os.environ["DEEPEVAL_DISABLE_DOTENV"] = "1"
    import deepeval.metrics

    return deepeval.metrics


def metric_class(name: str) -> Any:
    """The deepeval metric class for a name such as GEval, AnswerRelevancy or FaithfulnessMetric."""
    metrics = _import_deepeval()
    name = _ALIASES.get(name, name)
    for candidate in (name, f"{name}Metric"):
        cls = getattr(metrics, candidate, None)
        if isinstance(cls, type):
            return cls
    raise ValueError(f"deepeval has no metric {name!r}")


class NotEvidence(ProviderError):
    """A replayed judge answer that is no evidence for this run (not recorded for this prompt, or recorded by
    another judge): the measurement stops, and the case is left out as for the in-house judge's grades."""

    def __init__(self, result: Response | ProviderError) -> None:
        super().__init__(Category.CLIENT_ERROR, "the judge's recorded answer is not evidence for this run")
        self.result = result


def make_judge(provider: Provider, label: str, params: Mapping[str, Any], *, timeout: float | None = None,
               replay: Replay | None = None) -> Any:
    """A DeepEvalBaseLLM that answers through `provider`, retried and rate-limited by the calling thread's limits.
    A replayed answer counts only as the in-house judge's do (evidence.gap_of against `replay`)."""
    from deepeval.models import DeepEvalBaseLLM

    class ProdgateJudge(DeepEvalBaseLLM):  # type: ignore[no-untyped-call]
        def __init__(self) -> None:
            self._label = label
            super().__init__(label)

        def load_model(self, *args: Any, **kwargs: Any) -> Any:
            return provider

        def generate(self, prompt: Any, *args: Any, **kwargs: Any) -> str:
            # A schema keyword is accepted and ignored: deepeval then parses the JSON in the text.
            request = Request(messages=(ChatMessage("user", str(prompt)),), params=dict(params), timeout_s=timeout)
            result: Response | ProviderError
            try:
                result = limits.with_retries(lambda: provider.complete(request))
            except ProviderError as exc:
                result = exc
            if gap_of(result, replay, judge=True) is not None:
                raise NotEvidence(result)
            if isinstance(result, ProviderError):
                raise result
            return result.content

        async def a_generate(self, prompt: Any, *args: Any, **kwargs: Any) -> str:
            return self.generate(prompt)

        def get_model_name(self, *args: Any, **kwargs: Any) -> str:
            return self._label

    return ProdgateJudge()


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def test_case_fields(variables: Mapping[str, Any], user_text: str, output: str) -> dict[str, Any]:
    """The LLMTestCase fields of one case: `input` (else the rendered user message), the answer,
    `expected`, and `context`/`retrieval_context` (else each other)."""
    context = _as_list(variables.get("context"))
    retrieval = _as_list(variables.get("retrieval_context")) or context
    expected = variables.get("expected")
    return {
        "input": str(variables.get("input") or variables.get("question") or user_text),
        "actual_output": output,
        "expected_output": None if expected is None else str(expected),
        "context": context or retrieval,
        "retrieval_context": retrieval,
    }


def build_metric(cls: Any, name: str, params: Mapping[str, Any], judge: Any, threshold: float) -> Any:
    kwargs = dict(params)
    if cls.__name__ == "GEval":
        from deepeval.test_case import SingleTurnParams

        wanted = kwargs.pop("evaluation_params", ["input", "actual_output"])
        kwargs["evaluation_params"] = [SingleTurnParams(str(p).lower()) for p in wanted]
        kwargs.setdefault("name", name)
    return cls(model=judge, threshold=threshold, async_mode=False, **kwargs)


def measure(cls: Any, name: str, params: Mapping[str, Any], judge: Any, threshold: float,
            fields: Mapping[str, Any]) -> tuple[Score, Response | ProviderError | None]:
    """Score one answer with a fresh metric (deepeval metrics keep state, so one per case), and the judge's
    replayed result that is not evidence for this run, if one was (the case is then left out, not scored)."""
    from deepeval.test_case import LLMTestCase

    try:
        metric = build_metric(cls, name, params, judge, threshold)
        metric.measure(LLMTestCase(**{k: v for k, v in fields.items() if v is not None}), _show_indicator=False)
    except NotEvidence as exc:
        return Score(name, 0.0, False, None, exc.message), exc.result
    except ProviderError as exc:
        return Score(name, 0.0, False, exc.category.value, clip(f"judge call failed: {exc.message}", 200)), None
    except Exception as exc:  # noqa: BLE001 - deepeval raises plain exceptions for a judge it cannot parse
        return Score(name, 0.0, False, "quality.judge", clip(f"deepeval: {type(exc).__name__}: {exc}", 200)), None
    score = float(metric.score or 0.0)
    ok = bool(metric.is_successful())
    reason = str(getattr(metric, "reason", "") or "")
    return Score(name, score, ok, None if ok else "quality.judge",
                 "" if ok else clip(f"score {score:.2f} < threshold {threshold:g}: {reason}", 200)), None
