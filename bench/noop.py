"""Figure 2: re-running a finished target (nothing to do) and re-running after only 09's config changed.

Runs in the working directory that ``overhead`` left finished. 09's change toggles
``subtitles.lyrics_style`` (a params change of ``subtitle_gen_write`` only), so only 09 and 10 may run.
"""

from __future__ import annotations

import re
from pathlib import Path

import common
import yaml

RULE_LINE = re.compile(r"^(?:local)?rule (\w+):", re.MULTILINE)


def rules_ran(output: str) -> list[str]:
    return sorted(set(RULE_LINE.findall(output)))


def _set_lyrics_style(workdir: Path, style: str) -> None:
    path = workdir / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config.setdefault("subtitles", {})["lyrics_style"] = style
    path.write_text(yaml.safe_dump(config, allow_unicode=True))


def run(workdir: Path, target: str, runs: int = 3) -> dict:
    noop = []
    for _ in range(runs):
        result = common.timed_run(common.snakemake_command(workdir, target), cwd=workdir)
        noop.append(
            {
                "wall_s": result["wall_s"],
                "rc": result["rc"],
                "nothing_to_do": "Nothing to be done" in result["output"],
                "rules_ran": rules_ran(result["output"]),
            }
        )
    changed = []
    styles = ["note", "italic_note"] * ((runs + 1) // 2)  # toggle away and back: ends on the shipped style
    for style in styles:
        _set_lyrics_style(workdir, style)
        result = common.timed_run(common.snakemake_command(workdir, target), cwd=workdir)
        changed.append(
            {
                "lyrics_style": style,
                "wall_s": result["wall_s"],
                "rc": result["rc"],
                "rules_ran": rules_ran(result["output"]),
            }
        )
    _set_lyrics_style(workdir, "italic_note")
    return {
        "noop_s_median": common.median([r["wall_s"] for r in noop]),
        "noop_all_nothing_to_do": all(r["nothing_to_do"] and r["rc"] == 0 for r in noop),
        "config09_s_median": common.median([r["wall_s"] for r in changed]),
        "config09_rules_ran": sorted({rule for r in changed for rule in r["rules_ran"]}),
        "noop_runs": noop,
        "config09_runs": changed,
    }


def table(result: dict) -> str:
    return (
        f"no-op re-run {result['noop_s_median']:.2f} s (nothing to do: {result['noop_all_nothing_to_do']}); "
        f"after a 09 config change {result['config09_s_median']:.2f} s, rules run: "
        f"{', '.join(result['config09_rules_ran'])}"
    )
