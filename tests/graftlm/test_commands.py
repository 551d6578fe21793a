"""The helpers every command shares: flag help from the settings, listings."""

from graftlm.core.commands import echo_rows, setting_help
from graftlm.core.settings import TuningSettings, VllmSettings


def test_flag_help_is_the_settings_field_description():
    assert setting_help("tuning.rank") == TuningSettings.model_fields["rank"].description
    assert setting_help("serving.vllm.max_loras") == \
        VllmSettings.model_fields["max_loras"].description
    assert setting_help("home").startswith("Workspace directory")


def test_listings_print_json_lines_or_a_hint(capsys):
    echo_rows([], False, "nothing yet", str)
    echo_rows([{"a": 1}], False, "nothing yet", lambda r: f"row {r['a']}")
    echo_rows([{"a": 1}], True, "nothing yet", str)
    out = capsys.readouterr().out
    assert out.startswith("nothing yet\nrow 1\n[") and '"a": 1' in out
