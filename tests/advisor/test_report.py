"""The HTML report of measured advice."""

import json

from graftlm.advisor.schema import ArmResult
from tests.advisor.conftest import arm_result, measurement_of, static_advice


def test_the_report_is_one_self_contained_page(tmp_path):
    from graftlm.advisor.report import write_report

    arms = [arm_result("zero_shot", "prompting", 0.1), arm_result("lora", "lora", 0.8),
            ArmResult(id="rag", strategy="rag", title="RAG", status="skipped",
                      reason="no documents: pass --docs DIR")]
    measurement = measurement_of(arms).model_copy(update={"best": "lora", "verdict": "LoRA won."})
    advice = static_advice(["lora", "hybrid", "rag", "few_shot", "prompting", "full_ft"]).model_copy(
        update={"measurement": measurement, "recommendation": "lora"})
    page = write_report(advice, tmp_path / "out")
    html = page.read_text()
    assert html.count("<rect") == 2 and "LoRA won." in html and "no documents" in html
    assert "<script" not in html and "http" not in html.split("<pre>")[0].replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    again = json.loads((tmp_path / "out" / "advice.json").read_text())
    assert again["measurement"]["best"] == "lora"


def test_the_report_shows_every_metric_and_the_judges_prompt(tmp_path):
    from graftlm.advisor.report import write_report
    from graftlm.tuning.judge import PROMPT

    arm = arm_result("rag", "rag", 0.4).model_copy(update={"metrics": {
        "f1": 0.4, "exact_match": 0.1, "contains": 0.35, "judge": 0.5}})
    measurement = measurement_of([arm]).model_copy(update={
        "metric": "f1", "metrics": ["f1", "exact_match", "contains"], "best": "rag",
        "verdict": "RAG won.", "judge": {"url": "http://judge/v1", "model": "big", "prompt":
                                         PROMPT}})
    advice = static_advice(["rag", "hybrid", "lora", "few_shot", "prompting", "full_ft"]
                           ).model_copy(update={"measurement": measurement})
    html = write_report(advice, tmp_path / "out").read_text()
    for head in ("<th>f1</th>", "<th>exact match</th>", "<th>contains</th>", "<th>judge</th>"):
        assert head in html
    assert "<td>10.0</td><td>35.0</td><td>50.0</td>" in html
    assert "How well does the answer say what the reference says" in html
