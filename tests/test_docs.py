"""The docs stay true: generated pages match the code and the benchmarks' JSON, the README stays
short, every relative link leads somewhere, and every page is in the site's navigation.

Offline and fast: the generator reads the Typer app, the settings models, the method registry and
``benchmarks/results``; nothing is built or run.
"""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_LINES = 250
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _generator():
    spec = importlib.util.spec_from_file_location("graft_docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def _prose(text: str) -> str:
    """The text without fenced code blocks and code spans, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def test_generated_pages_match_the_code_and_the_benchmarks():
    generator = _generator()
    pages = generator.generate()
    assert set(pages) >= {"docs/reference/cli.md", "docs/reference/settings.md",
                          "docs/benchmarks.md"}
    stale = generator.drifted(pages)
    assert not stale, (f"generated docs are out of date: {', '.join(stale)}; run "
                       "`.venv/bin/python docs/generate.py` and commit the pages")


def test_generation_does_not_depend_on_the_environment(monkeypatch, tmp_path):
    generator = _generator()
    first = generator.generate()
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "37")
    assert generator.generate() == first


def test_check_lists_a_drifted_page(monkeypatch, capsys):
    generator = _generator()
    real = generator.PAGES["docs/reference/cli.md"]
    monkeypatch.setitem(generator.PAGES, "docs/reference/cli.md", lambda: real() + "\nextra\n")
    assert generator.main(["--check"]) == 1
    assert "docs/reference/cli.md" in capsys.readouterr().err


def test_every_benchmark_result_has_a_section():
    benchmarks = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    results = ROOT / "benchmarks" / "results"
    for path in [*results.glob("*.json"), *results.glob("*/advice.json")]:
        assert f"`{path.relative_to(ROOT).as_posix()}`" in benchmarks, path


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; keep it to {README_MAX_LINES}"


def test_relative_links_resolve():
    broken = []
    for page in _pages():
        for target in LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL, or an anchor in the same page
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert not broken, "links to nothing: " + "; ".join(broken)


def test_every_page_is_in_the_navigation():
    nav = set(re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"),
                         flags=re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == nav, f"not in nav: {sorted(pages - nav)}; missing: {sorted(nav - pages)}"


def test_readme_headline_figures_are_on_the_benchmarks_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    measured = readme.split("## Measured", 1)[1].split("\n## ", 1)[0]
    benchmarks = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    figures = re.findall(r"\d+\.\d+", measured)
    assert figures, "the README's Measured section quotes no figure"
    missing = [f for f in figures if not re.search(rf"(?<![\d.]){re.escape(f)}(?![\d])",
                                                     benchmarks)]
    assert not missing, f"README figures not in docs/benchmarks.md: {missing}"
