"""``graft train`` end to end: what it refuses before a run starts."""


def test_qlora_without_a_gpu_says_what_it_needs(tmp_path):
    from typer.testing import CliRunner

    from graftlm.cli import app
    from tests.conftest import save_tiny_base

    base = save_tiny_base(tmp_path / "tiny")
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "play some jazz", "completion": "PlayMusic"}\n' * 4)
    result = CliRunner().invoke(app, ["train", str(data), "--name", "q", "--qlora"],
                                env={"GRAFT_MODELS__BASE": str(base)})
    assert result.exit_code == 1, result.output
    assert "CUDA GPU" in result.output and "Traceback" not in result.output
    both = CliRunner().invoke(app, ["train", str(data), "--name", "q", "--qlora", "--full"],
                              env={"GRAFT_MODELS__BASE": str(base)})
    assert both.exit_code == 2 and "exclude each other" in both.output
