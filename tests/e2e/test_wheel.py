"""The wheel, installed where the repository is not: its stages import as ``graftlm.<stage>``,
nothing lands at the top level beside PyPI's ``advisor``, ``rag`` or ``tuning``, and the
installed `graft` answers ``--help`` and advises.

The clean environment is a new venv with the wheel installed into it and nothing else of ours;
the third-party dependencies are read from the project's own venv (a path line in a ``.pth``,
which does not run that venv's own ``.pth`` files, so its editable install stays out of sight)
rather than downloaded a second time.
"""

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import SHARED_HOME

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def run(*command, **kwargs):
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                          timeout=600, **kwargs)
    assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ beside the sources, and a stale one would
    # carry modules deleted since into the wheel.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".cache", "build", "dist", "*.egg-info", "__pycache__"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
        "--wheel-dir", work / "dist", source, cwd=work)
    wheel = next((work / "dist").glob("graftlm-*.whl"))
    run(sys.executable, "-m", "venv", work / "venv")
    python = work / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel)
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    deps = sysconfig.get_paths()["purelib"]  # this interpreter's: the project's venv
    Path(purelib.stdout.strip(), "graftlm-deps.pth").write_text(deps + "\n")
    return wheel, work / "venv" / "bin", work


def test_the_wheel_holds_the_stages_under_graftlm_only(installed):
    wheel, _, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"graftlm"}
    # every module of the tree, under its installed name: a subpackage missing from
    # pyproject.toml's list would be left out of the wheel without a word
    tree = {f"graftlm/{p.relative_to(ROOT)}" for stage in ("advisor", "rag", "tuning", "serving")
            for p in (ROOT / stage).rglob("*.py")}
    tree |= {str(p.relative_to(ROOT)) for p in (ROOT / "graftlm").rglob("*.py")}
    assert tree <= set(names), sorted(tree - set(names))
    assert "graftlm/advisor/reader.npz" in names  # the fitted reader travels as package data


def test_the_installed_graft_runs_away_from_the_repository(installed):
    _, bin_dir, work = installed
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "GRAFT_HOME": SHARED_HOME}
    where = run(bin_dir / "python", "-c", "import importlib.util as u; "
                "from graftlm.advisor.reader import READER_FILE as r; "
                "print(r, r.is_file(), u.find_spec('advisor'))", cwd=work, env=env)
    reader, found, bare = where.stdout.split()
    assert reader.startswith(str(work / "venv")) and found == "True" and bare == "None"
    helped = run(bin_dir / "graft", "--help", cwd=work, env=env)
    assert "advise" in helped.stdout and "serve" in helped.stdout
    advised = run(bin_dir / "graft", "advise", "Tag each support ticket with one of our 12 "
                  "queues; we have 8,000 tickets our agents already routed.", "--json",
                  cwd=work, env=env)
    advice = json.loads(advised.stdout)
    assert advice["recommendation"] == "lora" and advice["semantic"] is True
