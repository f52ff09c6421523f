"""README's "Adding a stage" recipe holds for every rule: one stem names the rule file, the entry script
and the module; the entry script is one call ``run_stage(snakemake, <module>)``; the module declares the
stage name its rule file and output folder carry, the packages its manifest records and the config section
its rule passes (``**section_params(SECTION)``, a section the schema closes); every file the rule writes
has a schema in workflow/schemas unless it is a media or report file (issue 14)."""

from __future__ import annotations

import ast
import importlib
import json
import re
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOT_STAGES = {"make_demo_film.py"}  # builds the demo film; no job, no manifest
# What a rule may write without a JSON schema: media, subtitles and the report's figures and tables.
MEDIA_SUFFIXES = {".wav", ".mkv", ".srt", ".vtt", ".html", ".png", ".csv"}
CONFIG_SCHEMA = json.loads((REPO / "workflow" / "schemas" / "config.schema.json").read_text())


def rule_blocks() -> list[tuple[Path, str, str]]:
    """(rule file, rule name, the rule's text) for every rule."""
    found = []
    for rules in sorted((REPO / "rules").glob("*.smk")):
        parts = re.split(r"^rule (\w+):\n", rules.read_text(), flags=re.M)
        found += [(rules, name, body) for name, body in zip(parts[1::2], parts[2::2], strict=True)]
    return found


def entry_scripts() -> list[tuple[Path, str, str, Path]]:
    found = []
    for rules, name, body in rule_blocks():
        for script in re.findall(r'script:\s*\n\s*"\.\./scripts/([^"]+\.py)"', body):
            if script not in NOT_STAGES:
                found.append((rules, name, body, REPO / "scripts" / script))
    return found


def stage_module(script: Path):
    tree = ast.parse(script.read_text())
    calls = [node.value for node in tree.body if isinstance(node, ast.Expr)]
    assert len(calls) == 1 and isinstance(calls[0], ast.Call), f"{script.name}: one call"
    call = calls[0]
    assert ast.unparse(call.func) == "run_stage" and len(call.args) == 2 and not call.keywords
    assert ast.unparse(call.args[0]) == "snakemake"
    return importlib.import_module(f"cinesub.{ast.unparse(call.args[1])}")


def test_every_rule_with_a_script_is_walked():
    assert len(entry_scripts()) >= 12  # 01 (with its VAD), 02-10, the review page and the report plots


WALKED = entry_scripts()
IDS = [name for _, name, _, _ in WALKED]


@pytest.mark.parametrize("rules, rule, body, script", WALKED, ids=IDS)
def test_entry_script_is_one_run_stage_call_of_a_module_that_declares_its_stage(rules, rule, body, script):
    module = stage_module(script)
    assert callable(module.run)
    if re.match(r"[0-9]{2}_", rules.stem):
        assert module.STAGE == rules.stem  # rule file, output folder and module name one stage
        assert f"jobs/{{job}}/{module.STAGE}/" in body
    else:
        assert module.STAGE in {"report", "review"}
    assert isinstance(module.PACKAGES, tuple) and module.PACKAGES
    for package in module.PACKAGES:
        if package not in {"whisperx", "IndicTransToolkit", "torch", "transformers", "plotly"}:  # optional
            assert metadata.version(package)


@pytest.mark.parametrize("rules, rule, body, script", WALKED, ids=IDS)
def test_one_stem_names_rule_file_rule_entry_script_and_module(rules, rule, body, script):
    module = stage_module(script)
    stem = rules.stem[3:] if re.match(r"[0-9]{2}_", rules.stem) else module.STAGE
    assert rule.startswith(f"{stem}_") and "_" not in rule[len(stem) + 1 :]  # <stem>_<verb>
    assert script.stem == stem
    assert module.__name__ == f"cinesub.{stem}"


@pytest.mark.parametrize("rules, rule, body, script", WALKED, ids=IDS)
def test_a_stage_gets_its_config_section_through_section_params(rules, rule, body, script):
    module = stage_module(script)
    passed = re.findall(r'\*\*section_params\(\s*"(\w+)"', body)
    if module.SECTION is None:
        assert not passed
        return
    assert passed[0] == module.SECTION, f"{rule}: its own section first"
    for section in passed:
        assert CONFIG_SCHEMA["properties"][section]["additionalProperties"] is False
    params = body.split("    params:\n")[1]
    by_hand = re.search(rf'^\s+\w+=config\["{module.SECTION}"\]', params, flags=re.M)
    assert not by_hand, f"{rule}: a setting of its section picked by hand"


def declared_outputs(body: str) -> list[str]:
    """The paths in the rule's output: directive (report(...) wrappers included)."""
    block = re.search(r"^    output:\n((?:        .*\n|\s*\n)+?)    \w+:", body, flags=re.M)
    assert block, "an output: directive"
    return re.findall(r'(?:^\s+\w+=|report\(\s*)"(jobs/[^"]+)"', block.group(1), flags=re.M)


@pytest.mark.parametrize("rules, rule, body, script", WALKED, ids=IDS)
def test_every_file_a_stage_writes_has_a_schema_or_is_media(rules, rule, body, script):
    outputs = declared_outputs(body)
    assert any(path.endswith("manifest.json") for path in outputs)
    if "**subtitle_format_outputs()" in body:
        assert set(CONFIG_SCHEMA["properties"]["subtitles"]["properties"]["formats"]["items"]["enum"]) <= {
            suffix.lstrip(".") for suffix in MEDIA_SUFFIXES
        }
    for path in outputs:
        suffix = Path(path).suffix
        if suffix in MEDIA_SUFFIXES:
            continue
        assert suffix == ".json", path
        kind = Path(path).name.split(".")[-2]  # <lang>.segments.json is a segments file
        assert (REPO / "workflow" / "schemas" / f"{kind}.schema.json").is_file(), f"{rule}: {path}"


def test_every_job_file_schema_has_one_reader_module():
    """Each schema of a file in jobs/<job>/ is named by one module of scripts/cinesub, its reader/writer."""
    sources = {path.name: path.read_text() for path in (REPO / "scripts" / "cinesub").glob("*.py")}
    for schema in sorted((REPO / "workflow" / "schemas").glob("*.schema.json")):
        if schema.name in {"config.schema.json", "jobs.schema.json"}:  # the workflow's inputs
            continue
        readers = [name for name, text in sources.items() if f'"{schema.name}"' in text]
        assert len(readers) == 1, (schema.name, readers)
