import hashlib
import json

from graftlm.core.lineage import file_sha256, model_hash, version_of
from graftlm.core.workspace import Workspace, write_manifest


def test_file_hash_is_the_sha256_of_its_bytes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * (3 << 20))  # more than one read block
    assert file_sha256(path) == hashlib.sha256(b"x" * (3 << 20)).hexdigest()


def test_model_hash_prefers_the_recorded_source_hash(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    assert model_hash(tmp_path) == hashlib.sha256(b"weights").hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps({"source_sha256": "abc"}))
    assert model_hash(tmp_path) == "abc"
    assert model_hash(tmp_path / "missing") is None


def test_version_names_the_build(tmp_path):
    ws = Workspace(tmp_path)
    with ws.writer("indexes", "kb") as staging:
        write_manifest(staging, "index", {"chunks": 3})
    artifact = ws.get("indexes", "kb")
    version = version_of(artifact)
    raw = (artifact.path / "manifest.json").read_bytes()
    assert version == {"name": "kb", "created": artifact.manifest["created"],
                       "sha256": hashlib.sha256(raw).hexdigest()[:12]}
