"""The diff sentence, money formatting, and the markdown and text views of the cost details."""

from __future__ import annotations

import pytest
from prodgate_checks.cost.diff import Basis, diff, money
from prodgate_checks.cost.model import ProfileCost, RouteCost
from prodgate_checks.cost.render import markdown_details, text_breakdown

from gate.report import Finding, Severity


def profile(name: str, **routes: float) -> ProfileCost:
    rs = tuple(RouteCost(r, 1000.0, usd, usd, {"m": usd}, 100.0, 10.0) for r, usd in routes.items())
    return ProfileCost(name, 30, 1000.0 * len(rs), sum(routes.values()), rs, {"m": sum(routes.values())})


@pytest.mark.parametrize(("value", "text"), [
    (2662.4, "$2,662"), (412, "$412"), (33.814, "$33.81"), (0.5, "$0.50"), (0.0042, "$0.0042"), (0, "$0.00"),
    (-12.5, "-$12.50"),
])
def test_render_money_formats_by_magnitude(value: float, text: str) -> None:
    assert money(value) == text


def test_render_diff_sentence_names_routes_that_moved_it() -> None:
    d = diff(profile("expected", answer=2000, classify=250), profile("expected", answer=2380, classify=282))
    assert d.sentence() == ("Monthly cost will increase by $412 (+18.3%), $2,250 -> $2,662; "
                            "moved by answer (+$380), classify (+$32.00)")
    assert d.change() == "+$412 (+18.3%)"


def test_render_diff_decrease_new_and_removed_routes() -> None:
    d = diff(profile("p", old=100, kept=50), profile("p", kept=40, fresh=10))
    assert d.sentence() == ("Monthly cost will decrease by $100 (-66.7%), $150 -> $50.00; "
                            "moved by old (removed, -$100), fresh (new, +$10.00), kept (-$10.00)")


def test_render_diff_without_change_says_so() -> None:
    d = diff(profile("p", a=10), profile("p", a=10.001))
    assert not d.changed and d.change() is None
    assert d.sentence() == "Monthly cost will not change: $10.00"


def _details(route_name: str) -> dict:
    head = {"name": "expected", "days_per_month": 30, "requests_month": 1000, "monthly_usd": 300.0,
            "by_model": {"m": 300.0}, "p50_usd": 290.0, "p95_usd": 400.0,
            "routes": [{"name": route_name, "models": ["m"], "requests_month": 1000, "monthly_usd": 300.0,
                        "per_1k_usd": 300.0, "by_model": {"m": 300.0},
                        "input_tokens": {"value": 100, "source": "estimated", "estimated": True},
                        "output_tokens": {"value": 10, "source": "given", "estimated": False}}]}
    return {"profile": "expected", "price_data": "genai-prices 0.2.3 bundled snapshot", "estimated": True,
            "profiles": [head, {**head, "name": "peak", "monthly_usd": 900.0}],
            "base": {"compared": True, "ref": "main", "reason": None},
            "diff": {"profile": "expected", "base_usd": 200.0, "head_usd": 300.0, "delta_usd": 100.0, "delta_pct": 50.0,
                     "sentence": f"Monthly cost will increase by $100 (+50.0%), $200 -> $300; moved by {route_name}",
                     "routes": [{"name": route_name, "base_usd": 200.0, "head_usd": 300.0, "delta_usd": 100.0}]},
            "diffs": {"expected": {"sentence": "Monthly cost will increase by $100 (+50.0%), $200 -> $300"}}}


def test_render_markdown_has_sentence_table_profiles_and_pie() -> None:
    finding = Finding(Severity.ERROR, "profile expected: monthly cost rises by 50.0%", "gate.yaml", 12)
    md = markdown_details(_details("answer"), [finding])
    assert md.startswith(r"**Monthly cost will increase by \$100 \(\+50\.0%\), \$200 \-&gt; \$300; moved by answer**")
    assert "gate.yaml:12" in md and "rises by" in md
    assert r"| answer | m | 1,000 | 100\* / 10 | \$200 | \$300 | \+\$100 | \$300 |" in md
    assert r"**expected \$300/mo \(p50 \$290, p95 \$400\)** · peak \$900/mo" in md
    assert '```mermaid\npie title Monthly cost by route (expected), USD\n    "answer" : 300.00\n```' in md


def test_render_markdown_neutralises_hostile_route_names() -> None:
    name = 'x"] @admin <img src=x> |`'
    md = markdown_details(_details(name), [])
    assert "<img" not in md and "@admin" not in md
    assert '"x admin img srcx " : 300.00' in md  # the pie label keeps only safe characters
    table = [line for line in md.splitlines() if line.startswith("| x")]
    assert table and table[0].count(" | ") == 7  # a `|` in the name does not add a column


def test_render_text_breakdown_filters_profile() -> None:
    text = text_breakdown(_details("answer"), only="peak")
    assert "profile peak (30 days/month): $900/mo" in text and "profile expected" not in text
    assert "prices: genai-prices 0.2.3 bundled snapshot" in text
    assert "answer" in text and "100*" in text


def test_render_diff_records_only_inputs_that_moved_visibly() -> None:
    base = ProfileCost("p", 30, 1000.0, 10.0, (RouteCost("a", 1000.0, 10.0, 10.0, {"small": 10.0}, 100.2, 10.0),),
                       {"small": 10.0})
    head = ProfileCost("p", 30, 1500.0, 30.0, (RouteCost("a", 1500.0, 30.0, 20.0, {"large": 30.0}, 100.4, 25.0),),
                       {"large": 30.0})
    assert diff(base, head).routes[0].moved == {"requests_month": (1000.0, 1500.0), "output_tokens": (10.0, 25.0),
                                                "models": (["small"], ["large"])}
    assert diff(base, base).routes[0].moved == {}


def test_render_moved_inputs_read_base_to_head_in_markdown_and_text() -> None:
    details = _details("answer")
    details["diff"]["routes"][0]["moved"] = {"models": [["small"], ["m"]], "requests_month": [800, 1000],
                                             "input_tokens": [60, 100]}
    md = markdown_details(details, [])
    assert r"| answer | small → m | 800 → 1,000 | 60 → 100\* / 10 | \$200 | \$300 | \+\$100 | \$300 |" in md
    text = text_breakdown(details).splitlines()
    sentence = text.index("Monthly cost will increase by $100 (+50.0%), $200 -> $300")
    assert text[sentence + 1] == "  answer: model small → m; requests/mo 800 → 1,000; input tokens 60 → 100"


def test_render_diff_tokens_counted_differently_per_key_said_beside_the_delta() -> None:
    base = profile("p", a=10)
    head = ProfileCost("p", 30, 1000.0, 14.0, (RouteCost("a", 1000.0, 14.0, 14.0, {"m": 14.0}, 140.0, 10.0),),
                       {"m": 14.0})
    d = diff(base, head, {"a": {"input_tokens": Basis.MEASURED, "output_tokens": Basis.GIVEN}},
             {"a": {"input_tokens": Basis.ESTIMATED, "output_tokens": Basis.MEASURED}})
    [route] = d.routes
    assert route.bases == {"input_tokens": (Basis.MEASURED, Basis.ESTIMATED),
                           "output_tokens": (Basis.GIVEN, Basis.MEASURED)}
    # No like-for-like figure (none was computed): the switch is said, never claimed to be the whole change.
    assert not route.counting_only and route.note == (
        "head input tokens estimated, base measured; head output tokens measured, base given")
    assert d.sentence().endswith("moved by a (+$4.00; head input tokens estimated, base measured; "
                                 "head output tokens measured, base given)")
    same = diff(base, head, {"a": {"input_tokens": Basis.MEASURED, "output_tokens": Basis.MEASURED}},
                {"a": {"input_tokens": Basis.ESTIMATED, "output_tokens": Basis.ESTIMATED}})
    assert same.routes[0].note == "head tokens estimated, base measured"
    alike = diff(base, head, {"a": {"input_tokens": Basis.MEASURED}}, {"a": {"input_tokens": Basis.ESTIMATED}},
                 (profile("p", a=8), profile("p", a=9)))
    assert alike.routes[0].alike_usd == 1 and alike.routes[0].note == (
        "head input tokens estimated, base measured; both estimated: +$1.00")
    assert diff(base, head, {"a": {"input_tokens": Basis.MEASURED}}, {"a": {"input_tokens": Basis.MEASURED}}
                ).routes[0].note is None
