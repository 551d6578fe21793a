import json

import pytest

from graftlm.core.errors import ArtifactError, ArtifactNotFoundError, InputError
from graftlm.core.workspace import Workspace, write_manifest


def _write(ws, name, payload, *, replace=False):
    with ws.writer("indexes", name, replace=replace) as staging:
        (staging / "data.txt").write_text(payload)
        write_manifest(staging, "index", {"payload": payload})


def test_write_list_get_remove(tmp_path):
    ws = Workspace(tmp_path)
    _write(ws, "handbook", "v1")
    art = ws.get("indexes", "handbook")
    assert art.manifest["payload"] == "v1" and art.manifest["format_version"] == 1
    assert [a.name for a in ws.list("indexes")] == ["handbook"]
    ws.remove("indexes", "handbook")
    assert ws.list("indexes") == []


def test_failed_write_keeps_previous_version(tmp_path):
    ws = Workspace(tmp_path)
    _write(ws, "handbook", "v1")
    with pytest.raises(RuntimeError):
        with ws.writer("indexes", "handbook", replace=True) as staging:
            (staging / "data.txt").write_text("half")
            raise RuntimeError("interrupted")
    assert (ws.path("indexes", "handbook") / "data.txt").read_text() == "v1"
    assert sorted(p.name for p in (tmp_path / "indexes").iterdir()) == [".locks", "handbook"]


def test_replace_needs_consent_and_publishes_new_version(tmp_path):
    ws = Workspace(tmp_path)
    _write(ws, "handbook", "v1")
    with pytest.raises(ArtifactError, match="--force"):
        _write(ws, "handbook", "v2")
    _write(ws, "handbook", "v2", replace=True)
    assert ws.get("indexes", "handbook").manifest["payload"] == "v2"


def test_missing_artifact_lists_what_exists(tmp_path):
    ws = Workspace(tmp_path)
    _write(ws, "alpha", "x")
    with pytest.raises(ArtifactNotFoundError, match="available: alpha"):
        ws.get("indexes", "beta")


def test_missing_artifact_errors_are_typed_by_kind(tmp_path):
    from graftlm.core.errors import AdapterNotFoundError, IndexNotFoundError

    ws = Workspace(tmp_path)
    with pytest.raises(IndexNotFoundError, match="no index named 'beta'"):
        ws.get("indexes", "beta")
    with pytest.raises(AdapterNotFoundError, match="no adapter named 'beta'"):
        ws.get("adapters", "beta")
    with pytest.raises(ArtifactNotFoundError) as other:
        ws.get("evals", "beta")
    assert type(other.value) is ArtifactNotFoundError


def test_write_without_manifest_is_refused(tmp_path):
    ws = Workspace(tmp_path)
    with pytest.raises(ArtifactError, match="without a manifest"):
        with ws.writer("indexes", "x"):
            pass
    assert not ws.exists("indexes", "x")


@pytest.mark.parametrize("name", ["../escape", "", "a b", "-dash", "x" * 65])
def test_bad_names_are_rejected(tmp_path, name):
    with pytest.raises(InputError, match="invalid name"):
        Workspace(tmp_path).path("indexes", name)


def test_corrupt_manifest_is_reported(tmp_path):
    ws = Workspace(tmp_path)
    _write(ws, "h", "v1")
    (ws.path("indexes", "h") / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="corrupt"):
        ws.get("indexes", "h")
    assert json.loads('{"ok": 1}')  # the list view skips the corrupt one instead of failing
    assert ws.list("indexes") == []


CRASH_BETWEEN_RENAMES = """
import os, sys
from pathlib import Path
from graftlm.core.workspace import Workspace, write_manifest

ws = Workspace(sys.argv[1])
renames = []
original = Path.rename

def rename(self, target):  # the first rename (old version aside) happens, then the power fails
    if renames:
        os._exit(9)
    renames.append(target)
    return original(self, target)

Path.rename = rename
with ws.writer("indexes", "handbook", replace=True) as staging:
    (staging / "data.txt").write_text("v2")
    write_manifest(staging, "index", {"payload": "v2"})
"""


def test_a_crash_between_the_two_renames_leaves_the_previous_version_to_serve(tmp_path):
    import subprocess
    import sys

    ws = Workspace(tmp_path)
    _write(ws, "handbook", "v1")
    crashed = subprocess.run([sys.executable, "-c", CRASH_BETWEEN_RENAMES, str(tmp_path)])
    assert crashed.returncode == 9
    assert not (tmp_path / "indexes" / "handbook").exists()  # the state the crash left
    assert [a.name for a in Workspace(tmp_path).list("indexes")] == ["handbook"]
    assert Workspace(tmp_path).get("indexes", "handbook").manifest["payload"] == "v1"
    _write(ws, "handbook", "v3", replace=True)  # the next write clears every leftover
    assert sorted(p.name for p in (tmp_path / "indexes").iterdir()) == [".locks", "handbook"]
    assert ws.get("indexes", "handbook").manifest["payload"] == "v3"


def test_a_second_writer_of_the_same_artifact_is_refused(tmp_path):
    ws = Workspace(tmp_path)
    with ws.writer("indexes", "handbook") as staging:
        with pytest.raises(ArtifactError, match="another process is writing index 'handbook'"):
            _write(Workspace(tmp_path), "handbook", "other", replace=True)
        _write(ws, "manual", "fine")  # another artifact is not held up
        (staging / "data.txt").write_text("v1")
        write_manifest(staging, "index", {"payload": "v1"})
    assert ws.get("indexes", "handbook").manifest["payload"] == "v1"


def test_a_reader_never_sees_parts_of_two_versions(tmp_path):
    """Publishing waits for a reader inside ``reading``: what it reads stays one version."""
    import threading
    import time

    ws = Workspace(tmp_path)
    _write(ws, "handbook", "v1")
    seen = []

    def read_slowly():
        with ws.reading("indexes", "handbook") as artifact:
            seen.append((artifact.path / "data.txt").read_text())
            time.sleep(0.5)
            seen.append(json.loads((artifact.path / "manifest.json").read_text())["payload"])

    reader = threading.Thread(target=read_slowly)
    reader.start()
    time.sleep(0.1)
    _write(ws, "handbook", "v2", replace=True)  # waits for the reader
    reader.join()
    assert seen == ["v1", "v1"]
    assert ws.get("indexes", "handbook").manifest["payload"] == "v2"
