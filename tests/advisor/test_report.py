"""The HTML report of measured advice."""

import json

from advisor.schema import ArmResult
from tests.advisor.conftest import arm_result, measurement_of, static_advice


def test_the_report_is_one_self_contained_page(tmp_path):
    from advisor.report import write_report

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
