"""No shell injection: hostile film names, titles and working directories are plain data.

Two halves: a source audit (every way this repository starts a process, proved to pass an argument
list and never a shell string) and a real run whose every path and free-text cell would create a
``pwned*`` file if any shell ever interpreted it.
"""

from __future__ import annotations

import ast
import inspect
import re
import shutil
from pathlib import Path

import pytest
from conftest import NO_OPTIONAL_STAGES, REPO, run_snakemake, write_workdir
from reliability import SHORT_LINES, closest_sentence, short_film, subtitle_text_in_mkv

# Film names that run ``touch pwned_*`` if a shell ever sees them, plus other awkward names.
HOSTILE_NAMES = {
    "semicolon": "film; touch pwned_semicolon.mkv",
    "subst": "$(touch pwned_subst) film.mkv",
    "backtick": "`touch pwned_backtick` & echo.mkv",
    "quotes": 'it\'s "quoted" | cat > pwned_redirect.mkv',
    "unicode": "फ़िल्म é ünïcode  spaces.mkv",
    "dash": "-i concat:x|y.mkv",
}
HOSTILE_TITLE = "$(touch pwned_title); `touch pwned_title2` && touch pwned_title3"
SOURCE_FILES = [
    REPO / "Snakefile",
    *sorted((REPO / "rules").glob("*.smk")),
    *sorted((REPO / "scripts").rglob("*.py")),
    *sorted((REPO / "bench").glob("*.py")),
]
PROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}


def python_sources() -> list[Path]:
    return [p for p in SOURCE_FILES if p.suffix == ".py"]


# ------------------------------------------------------------------------------- source audit


def test_no_shell_entry_points_anywhere():
    """No os.system/os.popen/shell=True/getoutput, and no rule uses a ``shell:`` directive
    (every rule runs a Python ``script:``, which gets job data through a pickle, not a shell)."""
    banned = re.compile(r"os\.system\(|os\.popen\(|shell\s*=\s*True|getstatusoutput\(|getoutput\(")
    offenders = [
        f"{p.relative_to(REPO)}:{n}"
        for p in SOURCE_FILES
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if banned.search(line)
    ]
    assert offenders == []
    shell_rules = [
        str(p.relative_to(REPO))
        for p in SOURCE_FILES
        if p.suffix != ".py" and re.search(r"^\s+shell:", p.read_text(), re.MULTILINE)
    ]
    for path in shell_rules:  # if one appears, every placeholder must be quoted with :q
        text = (REPO / path).read_text()
        unquoted = [
            m.group(0)
            for m in re.finditer(r"\{(input|output|params|wildcards|log)[^}]*\}", text)
            if not m.group(0).endswith(":q}")
        ]
        assert unquoted == [], f"{path}: unquoted shell placeholders {unquoted}"


def subprocess_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in PROCESS_CALLS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "subprocess"
    ]


def test_every_subprocess_call_passes_an_argument_list():
    calls = 0
    for path in python_sources():
        for call in subprocess_calls(ast.parse(path.read_text(encoding="utf-8"))):
            calls += 1
            where = f"{path.relative_to(REPO)}:{call.lineno}"
            first = (
                call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "args"), None)
            )
            # a string (literal, f-string or concatenation) would be split by a shell; a list is not
            assert not isinstance(first, ast.Constant | ast.JoinedStr | ast.BinOp), where
            assert all(k.arg != "shell" for k in call.keywords), where
            if isinstance(first, ast.Name):  # built elsewhere: it must come from a list or ffmpeg's compile()
                source = path.read_text(encoding="utf-8")
                assigned = re.search(
                    rf"^\s*{first.id}\s*=\s*(\[|build_command\(|.*\.compile\(\))", source, re.MULTILINE
                )
                assert assigned or f"{first.id}: list" in source, where
    assert calls >= 2  # mux and synth at least: the audit really looked


def test_ffmpeg_python_runs_without_a_shell_and_inputs_are_file_urls():
    """ffmpeg-python starts ffmpeg with Popen(argument list); our media paths reach it as
    ``file:`` URLs, so a name like ``concat:a|b`` or ``-i x`` is read as a plain file."""
    import ffmpeg._probe
    import ffmpeg._run

    for module in (ffmpeg._run, ffmpeg._probe):
        source = inspect.getsource(module)
        assert "subprocess.Popen(" in source and "shell=True" not in source
    inputs = 0
    for path in python_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("input", "probe")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "ffmpeg"
            ):
                inputs += 1
                first = node.args[0]
                lavfi = any(
                    k.arg == "f" and getattr(k.value, "value", None) == "lavfi" for k in node.keywords
                )
                file_url = (
                    isinstance(first, ast.Call) and getattr(first.func, "id", "") == "ffmpeg_url"
                ) or (isinstance(first, ast.BinOp) and getattr(first.left, "value", None) == "file:")
                assert lavfi or file_url, f"{path.relative_to(REPO)}:{node.lineno}"
    assert inputs >= 4


def test_espeak_text_cannot_become_an_option():
    from cinesub import synth

    source = inspect.getsource(synth.speak_espeak)
    assert '"--", line.text' in source


# ------------------------------------------------------------------------------- a real run


@pytest.mark.slow
def test_hostile_names_and_titles_are_plain_data(tmp_path):
    films = tmp_path / "films $(touch pwned_filmdir)"
    workdir = tmp_path / "work dir; touch pwned_workdir $(touch pwned_workdir2)"
    keys = list(SHORT_LINES)[: len(HOSTILE_NAMES)]
    jobs, expected = [], {}
    for (job, name), key in zip(HOSTILE_NAMES.items(), keys, strict=True):
        # the leading-dash name is given relative to the working directory, as an option would be
        film = (workdir if name.startswith("-") else films) / name
        film.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(short_film(films, key), film)
        media = name if name.startswith("-") else str(film)
        jobs.append({"job": job, "media": media, "source_lang": "en", "title": HOSTILE_TITLE})
        expected[job] = key
    write_workdir(
        workdir,
        jobs,
        {
            "stages": {**NO_OPTIONAL_STAGES, "tmdb": True, "glossary": True},
            "tmdb": {"api_url": "http://127.0.0.1:9", "retries": 0},
        },
    )
    run_snakemake(workdir, env={"TMDB_API_KEY": ""})
    for job, key in expected.items():
        text = subtitle_text_in_mkv(workdir / f"jobs/{job}/10_mux/out.mkv")
        assert closest_sentence(text) == key, (job, text)
        media = (workdir / f"jobs/{job}/01_demux/media.json").read_text(encoding="utf-8")
        assert HOSTILE_NAMES[job].replace('"', '\\"') in media
    metadata = (workdir / "jobs/semicolon/02_tmdb/metadata.json").read_text(encoding="utf-8")
    assert "touch pwned_title" in metadata  # the title went through as text
    # a shell would have run in one of these directories
    created = [
        *tmp_path.rglob("pwned*"),
        *REPO.glob("pwned*"),
        *Path.home().glob("pwned*"),
        *Path("/tmp").glob("pwned*"),
    ]
    assert created == [], f"a shell ran: {created}"
