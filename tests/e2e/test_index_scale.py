"""End-to-end: index builds on Ray and indexes held in Milvus, with the real embedder.

- A build on a local two-worker Ray makes the index a local build makes (same chunks and ids,
  vectors equal within float tolerance, same manifest), and so does an update, which sends only
  the changed files to the workers; the same on a Ray cluster started with `ray start`.
- An index held in a Milvus Lite server is served by two gateways at once while `graft index
  update` writes a new build: every answer comes whole from the build its gateway loaded, the
  gateways keep answering after the update, and a gateway started after it serves the new build.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import openai
import pytest

from graftlm.serving.launch import free_port, graft_serve
from tests.e2e.conftest import graft as graft_here
from tests.e2e.conftest import home_with_model


def graft(*args, **kwargs):
    """Each command in a process of its own: Ray's and Milvus' clients live per process."""
    return graft_here(*args, fresh=True, **kwargs)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "examples/docs"
RAY = {"GRAFT_RAG__RAY__WORKERS": "2"}
QUESTION = [{"role": "user", "content": "How long does the warranty last?"}]
MARKER = "The warranty was extended to five years in this build."


def same_index(home, a, b):
    """The two indexes hold the same chunks, vectors (within tolerance) and manifest."""
    pa, pb = home / "indexes" / a, home / "indexes" / b
    assert (pa / "chunks.jsonl").read_text() == (pb / "chunks.jsonl").read_text()
    va, vb = np.load(pa / "vectors.npy"), np.load(pb / "vectors.npy")
    assert va.shape == vb.shape and np.allclose(va, vb, atol=1e-5)
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (pa, pb))
    for manifest in (ma, mb):
        for key in ("name", "created", "build_seconds"):
            manifest.pop(key)
    assert ma == mb


def changed_copy(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    (docs / "warranty.txt").write_text((DOCS / "warranty.txt").read_text() + "\n" + MARKER + "\n")
    (docs / "added.md").write_text("# Guest access\n\nGuest passwords rotate every Monday.\n")
    return docs


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return home_with_model(tmp_path_factory, "scale-home")


def test_a_two_worker_ray_build_and_update_match_the_local_ones(home, tmp_path):
    assert graft("index", "build", str(DOCS), "--name", "here", home=str(home)).returncode == 0
    built = graft("index", "build", str(DOCS), "--name", "onray", "--executor", "ray",
                  home=str(home), env=RAY)
    assert built.returncode == 0, built.stderr
    assert "Traceback" not in built.stderr and "WARNING" not in built.stderr, built.stderr
    same_index(home, "here", "onray")

    docs = changed_copy(tmp_path)
    assert graft("index", "update", "here", "--folder", str(docs),
                 home=str(home)).returncode == 0
    updated = graft("index", "update", "onray", "--folder", str(docs), "--executor", "ray",
                    home=str(home), env=RAY)
    assert updated.returncode == 0, updated.stderr
    # Only the changed and the new file went to the workers.
    assert "7 files reused" in updated.stdout, updated.stdout
    same_index(home, "here", "onray")


def test_a_build_on_a_running_ray_cluster_and_one_that_cannot_be_reached(home, tmp_path):
    port = free_port()
    ray = [str(Path(sys.executable).parent / "ray")]
    # A cluster as a team runs one: token authentication on, the token given to its users.
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16)}
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **auth}
    started = subprocess.run([*ray, "start", "--head", f"--port={port}", "--num-cpus=2",
                              "--include-dashboard=false", "--disable-usage-stats"],
                             capture_output=True, text=True, env=env, timeout=300)
    assert started.returncode == 0, started.stderr
    try:
        built = graft("index", "build", str(DOCS), "--name", "cluster", "--executor", "ray",
                      home=str(home), env={**RAY, **auth,
                                           "GRAFT_RAG__RAY__ADDRESS": f"127.0.0.1:{port}"})
        assert built.returncode == 0, built.stderr
        wrong = graft("index", "build", str(DOCS), "--name", "intruder", "--executor", "ray",
                      home=str(home), env={**auth, "RAY_AUTH_TOKEN": "not-the-token",
                                           "GRAFT_RAG__RAY__ADDRESS": f"127.0.0.1:{port}"})
        assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
        assert "cannot join the Ray cluster" in wrong.stderr and "RAY_AUTH_TOKEN" in wrong.stderr
    finally:
        subprocess.run([*ray, "stop", "--force"], capture_output=True, env=env, timeout=300)
    local = graft("index", "build", str(DOCS), "--name", "plain", "--force", home=str(home))
    assert local.returncode == 0, local.stderr
    same_index(home, "plain", "cluster")
    gone = graft("index", "build", str(DOCS), "--name", "nowhere", "--executor", "ray",
                 home=str(home), env={"GRAFT_RAG__RAY__ADDRESS": f"127.0.0.1:{port}"})
    assert gone.returncode == 1 and "Traceback" not in gone.stderr
    assert f"cannot reach the Ray cluster at 127.0.0.1:{port}" in gone.stderr, gone.stderr


@pytest.fixture
def milvus_server(tmp_path):
    """A Milvus Lite server, as a team would run it for several gateways."""
    port, log = free_port(), tmp_path / "milvus.log"
    with open(log, "w") as out:
        server = subprocess.Popen([str(Path(sys.executable).parent / "milvus-lite"), "server",
                                   "--data-dir", str(tmp_path / "milvus-data"), "--port",
                                   str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        import socket
        import time

        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(60)


def ask(url):
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(model="base+shared", messages=QUESTION, max_tokens=1,
                                           temperature=0)
    return reply.model_extra["graft"]["index"]["collection"], reply.model_extra["citations"]


def test_gateways_share_a_milvus_index_through_an_update(home, tmp_path, milvus_server):
    env = {"GRAFT_RAG__MILVUS__URI": milvus_server}
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    built = graft("index", "build", str(docs), "--name", "shared", "--store", "milvus",
                  home=str(home), env=env)
    assert built.returncode == 0, built.stderr
    serve_env = {**os.environ, "GRAFT_HOME": str(home), "HF_HUB_OFFLINE": "1", **env}
    args = ("--engine", "local", "--index", "shared")
    with graft_serve(*args, log=tmp_path / "a.log", env=serve_env) as (a, _), \
            graft_serve(*args, log=tmp_path / "b.log", env=serve_env) as (b, _):
        first, _ = ask(a)
        assert ask(b)[0] == first
        answers, failures, stop = [], [], threading.Event()

        def keep_asking(url):
            while not stop.is_set():
                try:
                    answers.append(ask(url))
                except Exception as exc:  # noqa: BLE001 - every failure is reported below
                    failures.append(repr(exc))

        askers = [threading.Thread(target=keep_asking, args=(u,)) for u in (a, b)]
        for t in askers:
            t.start()
        changed_copy(tmp_path / "v2")
        updated = graft("index", "update", "shared", "--folder", str(tmp_path / "v2/docs"),
                        home=str(home), env=env)
        stop.set()
        for t in askers:
            t.join()
        assert updated.returncode == 0, updated.stderr
        assert not failures, failures[:3]
        assert len(answers) >= 4
        for collection, citations in answers:  # each answer is the first build, whole
            assert collection == first
            assert citations and all(MARKER not in c["text"] for c in citations)
        assert ask(a)[0] == first  # still answering after the update, from its build
        with graft_serve(*args, log=tmp_path / "c.log", env=serve_env) as (c, _):
            collection, citations = ask(c)
    assert collection != first
    assert any(MARKER in c["text"] for c in citations), citations
    manifest = json.loads((home / "indexes/shared/manifest.json").read_text())
    assert manifest["store"]["collection"] == collection
    assert manifest["store"]["earlier"] == [first]
    # graft index rm takes the index's collections and alias out of Milvus with it.
    removed = graft("index", "rm", "shared", home=str(home), env=env)
    assert removed.returncode == 0, removed.stderr
    from pymilvus import MilvusClient

    left = MilvusClient(uri=milvus_server).list_collections()
    assert not [c for c in left if c.startswith(manifest["store"]["alias"] + "_")], left
