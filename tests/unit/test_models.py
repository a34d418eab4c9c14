"""models.yaml: fallback chains and cycles found in linear time, non-finite numbers as defects at their line."""

from __future__ import annotations

from pathlib import Path

from gate.models import load_models, models_from_text
from tests.conftest import gate_subprocess


def _models(fallbacks: dict[str, list[str]]) -> str:
    lines = ["models:"]
    for name, fb in fallbacks.items():
        lines.append(f"  {name}: {{provider: openai, model: gpt-4o, fallback: [{', '.join(fb)}]}}")
    return "\n".join(lines) + "\n"


def test_models_chain_deep_acyclic_each_model_once() -> None:
    names = [f"m{i}" for i in range(26)]
    models = models_from_text(_models({n: names[i + 1:] for i, n in enumerate(names)}), "models.yaml")
    assert models.problems == ()
    assert models.chain("m0") == names


def test_models_chain_longer_than_recursion_limit_is_followed() -> None:
    names = [f"m{i}" for i in range(3000)]
    models = models_from_text(_models({n: names[i + 1:i + 2] for i, n in enumerate(names)}), "models.yaml")
    assert models.problems == ()
    assert models.chain("m0") == names


def test_models_shared_fallback_list_one_cycle_per_model_at_its_line() -> None:
    names = [f"m{i}" for i in range(10)]
    models = models_from_text(_models({n: names for n in names}), "models.yaml")
    cycles = [p for p in models.problems if "is a cycle" in p.message]
    assert [p.position.line for p in cycles] == list(range(2, 11))
    assert cycles[0].message == "models.m0.fallback: fallback chain is a cycle: m0 -> m1 -> m0"
    assert len([p for p in models.problems if "fall back to itself" in p.message]) == 10


def test_models_three_cycle_reported_once_from_its_first_model() -> None:
    models = models_from_text(_models({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}), "models.yaml")
    assert [p.message for p in models.problems] == ["models.a.fallback: fallback chain is a cycle: a -> b -> c -> a"]


def test_models_same_text_parsed_once() -> None:
    text = _models({"a": [], "b": ["a"]})
    assert models_from_text(text, "models.yaml") is models_from_text(text, "models.yaml")


def test_models_non_finite_price_is_a_problem_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("models:\n  a:\n    provider: openai\n    model: gpt-4o\n"
                    "    pricing: {input_per_mtok: .nan, output_per_mtok: .inf}\n")
    problems = load_models(path, "models.yaml").problems
    # Whether the YAML reader or the models check refuses it, the defect is at line 5, never a price of nan.
    assert problems and {p.position.line for p in problems} == {5}
    assert all("nan" in p.message.lower() or "inf" in p.message.lower() or "finite" in p.message for p in problems)


def test_models_validate_shared_fallbacks_ends_with_findings(tmp_path: Path) -> None:
    # Walking every path took minutes for ten models sharing one fallback list; the timeout turns a hang into a failure.
    names = [f"m{i}" for i in range(12)]
    (tmp_path / "models.yaml").write_text(_models({n: names for n in names}))
    (tmp_path / "gate.yaml").write_text("version: 1\nmodels: models.yaml\nschema: {}\n")
    res = gate_subprocess("validate", "--format", "json", cwd=tmp_path, timeout=60)
    assert res.exit_code == 1, res.stderr
    schema = next(c for c in res.json()["checks"] if c["name"] == "schema")
    assert schema["status"] == "fail"
    assert sum("is a cycle" in f["message"] for f in schema["findings"]) == 11


def test_models_extension_field_holds_anchors_the_entries_share() -> None:
    text = ("version: 1\nx-common: &common\n  provider: openai\n  params: {temperature: 0.2}\n"
            "models:\n  a: {<<: *common, model: gpt-4o}\n  b: {<<: *common, model: gpt-4o-mini}\n")
    models = models_from_text(text, "models.yaml")
    assert models.problems == ()
    assert models.models["b"].params == {"temperature": 0.2} and models.models["b"].provider == "openai"
    # Only the `x-` prefix marks an extension: another unknown key is still a mistake at its line.
    typo = models_from_text(text.replace("x-common", "xcommon"), "models.yaml")
    assert [(p.position.line, "xcommon" in p.message) for p in typo.problems] == [(2, True)]
