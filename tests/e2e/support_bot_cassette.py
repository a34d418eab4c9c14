"""Writes the support-bot example's cassette: realistic answers and judge grades for every request the
regression check makes, keyed exactly as the check keys them (it builds the requests with the check's
own code), each labelled with the producer a live run would record: the prompt's model from models.yaml,
and the judge's. Run it after changing the example's prompts or datasets (or, with --init, gate init's):

    python tests/e2e/support_bot_cassette.py [EXAMPLE_DIR | --init]

Tests call `build()` with overrides to make a branch whose answers got worse, or changed by noise."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prodgate_checks.regression.config import parse_config
from prodgate_checks.regression.judge import judge_request, spec_for
from prodgate_checks.regression.suites import SuiteLoader

from gate.config import load_config
from gate.context import CheckContext
from gate.gitref import resolve_base
from gate.models import load_models
from gate.providers.base import Request, Response, Usage
from gate.providers.cassette import entry, write_cassette
from gate.providers.factory import model_producers

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support-bot"
CASSETTE = "cassettes/support-bot.jsonl"

# Cases the recorded model gets wrong, so the example's numbers are not all 100%.
UNSURE = {"answers/vat-2", "answers/ip-allowlist-1", "answers/gdpr-2", "answers/scaling-2"}
WRONG_ROUTE = {"routing/route-05": "technical", "routing/route-22": "technical", "routing/route-36": "account"}
NOT_URGENT = {"routing/route-13"}

_OPENERS = ("", "Sure! ", "Happy to help. ", "Good question. ", "Thanks for reaching out. ")
_CLOSERS = ("", " Let me know if there's anything else I can help with.", " If that doesn't work, I can open a ticket for you.",
            " Is there anything else you'd like to know?")
UNSURE_ANSWER = ("I'm not certain about that from the information I have. Would you like me to open a ticket so a "
                 "member of the support team can confirm?")
VAGUE_ANSWER = "You can find this in the dashboard. Please check the relevant settings page or our documentation."


def _pick(key: str, options: tuple[str, ...]) -> str:
    return options[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(options)]


def _words(text: str) -> int:
    return len(text.split())


def default_answer(case_key: str, variables: Mapping[str, Any]) -> str:
    if "message" in variables:  # the ticket router answers JSON
        queue = WRONG_ROUTE.get(case_key, str(variables.get("expected", "other")))
        urgent = any(w in str(variables["message"]).lower() for w in ("down", "outage", "502", "500", "lock", "expire"))
        urgent = urgent and case_key not in NOT_URGENT
        return json.dumps({"queue": queue, "urgent": urgent})
    if case_key in UNSURE:
        return UNSURE_ANSWER
    context = str(variables.get("context", "")).strip()
    return f"{_pick(case_key + 'o', _OPENERS)}{context}{_pick(case_key + 'c', _CLOSERS)}".strip()


def grade(answer: str, variables: Mapping[str, Any]) -> str:
    """The judge's reply: 5 for a grounded answer that says the key fact, 4 when it only paraphrases, 2 otherwise."""
    expected = str(variables.get("expected", "")).lower()
    context = str(variables.get("context", "")).lower()
    if expected and expected in answer.lower():
        return "5"
    if context and context[:40] in answer.lower():
        return "4"
    return "2"


def _response(request: Request, content: str, model: str) -> Response:
    prompt = sum(_words(m.content) for m in request.messages)
    latency = 0.4 + int(hashlib.sha256(content.encode()).hexdigest()[:4], 16) / 65535 * 1.6
    return Response(content, Usage(prompt, _words(content)), round(latency, 3), model, "stop")


INIT = Path(__file__).resolve().parents[2] / "gate" / "templates" / "init"
INIT_ANSWERS = {
    "What is the capital of France?": "The capital of France is Paris.",
    "At what temperature in Celsius does water boil at sea level?": "At sea level, water boils at 100 °C.",
    "Which planet is the largest in the solar system?": "Jupiter is the largest planet in the solar system.",
}


def build(example: Path = EXAMPLE, overrides: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every cassette entry for the example; overrides map 'suite/case' to another answer."""
    config = load_config(example / "gate.yaml")
    ctx = CheckContext(config, resolve_base(example))
    cfg = parse_config(config)
    suites = SuiteLoader(ctx, cfg).load()
    models = load_models(config.models_path, "models.yaml") if config.models_path else None
    entries: dict[str, dict[str, Any]] = {}
    for suite in suites:
        assert suite.prompt is not None and suite.prompt.model, f"{suite.name}: the prompt names no model"
        answerer = model_producers(suite.prompt.model, models)[0]
        for case in suite.cases:
            key = f"{suite.name}/{case.id}"
            answer = (overrides or {}).get(key) or INIT_ANSWERS.get(str(case.variables.get("question"))) \
                or default_answer(key, case.variables)
            for request in suite.requests_for(case):
                e = entry(request, _response(request, answer, answerer["model"]), answerer)
                entries[e["key"]] = e
                for m in suite.metrics:
                    if m.kind not in ("llm", "uses"):
                        continue
                    spec = spec_for(m.kind, m.value)
                    judge = judge_request(spec, case.variables, answer, params={}, case_id=key)
                    grader = model_producers(spec.model_id, models)[0]
                    g = entry(judge, _response(judge, grade(answer, case.variables), grader["model"]), grader)
                    entries[g["key"]] = g
    return list(entries.values())


def write(example: Path = EXAMPLE, overrides: Mapping[str, str] | None = None) -> Path:
    path = example / (CASSETTE if example != INIT else "cassettes/assistant.jsonl")
    write_cassette(path, build(example, overrides))
    return path


if __name__ == "__main__":
    # `--init` writes the cassette `gate init` ships.
    arg = sys.argv[1] if len(sys.argv) > 1 else ""
    print(write(INIT if arg == "--init" else Path(arg) if arg else EXAMPLE))
