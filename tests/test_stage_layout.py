"""README's "Adding a stage" recipe holds for every rule: its entry script is one call
``run_stage(snakemake, <module>)``, and the module declares the stage name its rule file and output
folder carry and the packages its manifest records (issue 14)."""

from __future__ import annotations

import ast
import importlib
import re
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOT_STAGES = {"make_demo_film.py"}  # builds the demo film; no job, no manifest


def entry_scripts() -> list[tuple[Path, Path]]:
    found = []
    for rules in sorted((REPO / "rules").glob("*.smk")):
        for script in re.findall(r'script:\s*\n\s*"\.\./scripts/([^"]+\.py)"', rules.read_text()):
            if script not in NOT_STAGES:
                found.append((rules, REPO / "scripts" / script))
    return found


def test_every_rule_with_a_script_is_walked():
    assert len(entry_scripts()) >= 12  # 01 (with its VAD), 02-10, the review page and the report plots


@pytest.mark.parametrize("rules, script", entry_scripts(), ids=lambda p: p.name)
def test_entry_script_is_one_run_stage_call_of_a_module_that_declares_its_stage(rules, script):
    tree = ast.parse(script.read_text())
    calls = [node.value for node in tree.body if isinstance(node, ast.Expr)]
    assert len(calls) == 1 and isinstance(calls[0], ast.Call), f"{script.name}: one call"
    call = calls[0]
    assert ast.unparse(call.func) == "run_stage" and len(call.args) == 2 and not call.keywords
    assert ast.unparse(call.args[0]) == "snakemake"
    module = importlib.import_module(f"cinesub.{ast.unparse(call.args[1])}")
    assert callable(module.run)
    text = rules.read_text()
    if re.match(r"[0-9]{2}_", rules.stem):
        assert module.STAGE == rules.stem  # rule file, output folder and module name one stage
        assert f"jobs/{{job}}/{module.STAGE}/" in text
    else:
        assert module.STAGE in {"report", "review"}
    assert isinstance(module.PACKAGES, tuple) and module.PACKAGES
    for package in module.PACKAGES:
        if package not in {"whisperx", "IndicTransToolkit", "torch", "transformers", "plotly"}:  # optional
            assert metadata.version(package)
