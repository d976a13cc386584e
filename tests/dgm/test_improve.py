"""Entry choice, diagnosis parsing and the evidence the FM may see."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from dgm.evolve import improve
from dgm.run.config import EntryWeights


@dataclass
class Ev:
    task: str
    outcome: str
    log_path: str | None = None


def draw(evals, n=400, weights=None):
    rng = np.random.default_rng(0)
    return [improve.choose_entry(evals, weights or EntryWeights(), rng) for _ in range(n)]


def test_no_evaluations_gives_a_general_entry():
    assert improve.choose_entry([], EntryWeights(), np.random.default_rng(0)).kind == "general"


def test_failed_tasks_only_are_targets():
    evals = [Ev("a", "resolved"), Ev("b", "unresolved"), Ev("c", "error")]
    tasks = {e.task for e in draw(evals)}
    assert tasks == {"b", "c"}


def test_general_weaknesses_appear_only_when_shown(tmp_path):
    log = tmp_path / "log.md"
    log.write_text("...\nstopped: step cap reached (10 steps)\n")
    evals = [Ev("a", "empty"), Ev("b", "resolved"), Ev("b", "unresolved"), Ev("c", "x", str(log))]
    kinds = {e.kind for e in draw(evals)}
    assert kinds == {"empty", "stochasticity", "step_cap", "failed_task"}
    plain = {e.kind for e in draw([Ev("a", "unresolved")])}
    assert plain == {"failed_task"}


def test_weights_steer_the_draw():
    evals = [Ev("a", "empty")]
    only_empty = draw(evals, weights=EntryWeights(failed_task=0.0))
    assert {e.kind for e in only_empty} == {"empty"}
    share = np.mean([e.kind == "empty" for e in draw(evals, n=2000)])
    assert abs(share - 0.25 / 1.25) < 0.04


def test_parse_diagnosis_tolerates_a_fence():
    text = 'Here:\n```json\n{"weakness": "w", "proposed_change": {"id": "x", "title": "t",'
    text += ' "description": "d"}, "problem_statement": "do it"}\n```'
    d = improve.parse_diagnosis(text)
    assert (d.weakness, d.title, d.problem_statement, d.change_id) == ("w", "t", "do it", "x")


@pytest.mark.parametrize(
    "text",
    ["no json here", "{not json}", '{"proposed_change": {"title": "t"}}', ""],
)
def test_malformed_diagnosis_is_a_clear_error(text):
    with pytest.raises(improve.DiagnosisError):
        improve.parse_diagnosis(text)


GOOD = {
    "weakness": "w",
    "proposed_change": {"title": "t", "description": "d"},
    "problem_statement": "keep the `{}` placeholders",
}


@pytest.mark.parametrize(
    "text",
    [
        # fenced, then prose with braces (a real model's habit): "Extra data" before
        "```json\n" + json.dumps(GOOD) + "\n```\nNote: it keeps the `{}` placeholders {x}.",
        # bare, with prose and braces before and after
        "I think {this} matters. " + json.dumps(GOOD) + ' Also {"a": 1} is unrelated.',
        # an earlier fenced block that is not JSON, then the object
        "```python\nprint({1: 2})\n```\n```json\n" + json.dumps(GOOD, indent=2) + "\n```",
    ],
)
def test_the_first_complete_json_object_is_the_diagnosis(text):
    d = improve.parse_diagnosis(text)
    assert (d.title, d.problem_statement) == ("t", "keep the `{}` placeholders")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**GOOD, "problem_statement": " "}, "problem_statement"),
        ({k: v for k, v in GOOD.items() if k != "proposed_change"}, "proposed_change"),
    ],
)
def test_a_missing_field_is_named_for_the_repair_request(data, field):
    with pytest.raises(improve.MissingField) as info:
        improve.parse_diagnosis(json.dumps(data))
    assert info.value.field == field
    message = improve.repair_message(info.value)
    assert message["role"] == "user" and f"`{field}` is missing" in message["content"]


def test_evidence_never_holds_hidden_material(tmp_path):
    log = tmp_path / "t.md"
    log.write_text("agent transcript: ran tests, 1 failed")
    evals = [Ev("t1", "unresolved", str(log))]
    text = improve.evidence_for(improve.Entry("failed_task", "t1"), evals, {"t1": "Fix it."})
    assert "agent transcript" in text and "Fix it." in text
    assert "hidden" not in text.lower()


def test_clip_keeps_head_and_tail():
    text = "A" * 100 + "B" * 100
    out = improve.clip(text, 50)
    assert out.startswith("A" * 25) and out.endswith("B" * 25) and "clipped" in out


def test_source_summary_lists_and_bounds(tmp_path):
    (tmp_path / "agent.py").write_text("x = 1\n" * 5000)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("pass\n")
    text = improve.source_summary(tmp_path, chars=2000)
    assert "agent.py (5000 lines)" in text and "tests/test_a.py" in text
    assert len(text) < 3000
