"""The thin edge between a Snakemake ``script:`` job and a stage's ``run`` function.

It routes logging, Python warnings and the process's native stderr (fd 2) to the rule's log file,
keeps the console for the one error line and progress lines, turns failures into one user-facing line
(``cinesub: job <id>: <stage>: <problem>``) with a non-zero exit, and writes the
stage manifest after a successful run.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

from . import console, manifest, stagecache
from .errors import REPORTED, CinesubError

WRITE_FAILURES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file size limit exceeded",
}


@dataclass
class StageContext:
    stage: str
    job: str
    input: Any
    output: Any
    params: Any
    threads: int = 1
    resources: Any = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("cinesub"))
    models: dict[str, Any] = field(default_factory=dict)  # filled by the stage for the manifest
    warnings: list[str] = field(default_factory=list)  # qc problems passed with qc.on_failure: warn

    def fail(self, problem: str) -> CinesubError:
        return CinesubError(problem, job=self.job, stage=self.stage)


def configure_logging(log_path: str | None) -> logging.Logger:
    """The stage's logger writes to the rule's log file; so do other libraries' loggers (warnings and up)
    and Python ``warnings``. The file is opened for appending, so lines that native code writes to the
    same file through fd 2 (:func:`capture_stderr`) land in order instead of being overwritten."""
    logger = logging.getLogger("cinesub")
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    if log_path:
        open(log_path, "w").close()  # a rerun starts a fresh log
    handler: logging.Handler = (
        logging.FileHandler(log_path, mode="a", encoding="utf-8") if log_path else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "cinesub_stage_log", False)]:
        root.removeHandler(old)
        old.close()
    handler.cinesub_stage_log = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # warnings.warn -> the "py.warnings" logger -> the log file (off first: on twice would keep an
    # older warnings.showwarning that someone has replaced since)
    logging.captureWarnings(False)
    logging.captureWarnings(True)
    return logger


@contextlib.contextmanager
def capture_stderr(log_path: str | None) -> Iterator[None]:
    """Send the process's fd 2 (what CTranslate2, ffmpeg, onnxruntime and stray prints write) to the
    rule's log file; the ``cinesub:`` error line and progress lines keep the console
    (:func:`cinesub.console.terminal`). Without a log file nothing moves."""
    if not log_path:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    terminal = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
    console.set_terminal(terminal)
    try:
        yield
    finally:
        sys.stderr.flush()
        console.set_terminal(None)
        terminal.close()
        os.dup2(saved, 2)
        os.close(saved)


def optional_input(files: Any, name: str) -> str | None:
    """The path of a rule input that may be absent, or None: the rule leaves it out, or gives an empty
    list, when the stage that makes it is switched off (a named input of one file is a path, or a list
    of one path when the rule builds it from a list). The one way a stage reads an optional input."""
    value = getattr(files, name, None)
    if value is None:
        return None
    value = [value] if isinstance(value, (str, os.PathLike)) else list(value)
    return str(value[0]) if value and str(value[0]) else None


def _describe_unexpected(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno in WRITE_FAILURES:
        return f"{WRITE_FAILURES[exc.errno]} while writing {exc.filename or 'output'}"
    if isinstance(exc, MemoryError):
        return "out of memory"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


def stage_params(params: dict, config: dict, separator: str = "__") -> dict:
    """A job's params as its stage reads them: the rule's one-setting params ``<section>__<key>``
    (rules/common.smk section_params) joined back into one ``<section>`` dict, plus that section's run
    settings (threads, memory, cache paths, timeouts) from the validated config. Those are no rule
    params (changing them reruns nothing) but the stage runs with them and its manifest records them."""
    joined: dict[str, Any] = {}
    for name, value in params.items():
        section, _, key = name.partition(separator)
        if key and isinstance(value, dict) and key in value:
            joined.setdefault(section, {})[key] = value[key]
        else:
            joined[name] = value
    for name, value in joined.items():
        if isinstance(value, dict) and isinstance(config.get(name), dict):
            for key in stagecache.run_setting_keys(name):
                if key in config[name]:
                    value.setdefault(key, config[name][key])
    return joined


def run_stage(
    smk: Any,
    stage: str | ModuleType,
    func: Callable[[StageContext], None] | None = None,
    packages: tuple[str, ...] = (),
) -> None:
    """Run a stage for a Snakemake job and exit non-zero with one clear line on failure.

    An entry script passes the stage's module, which declares ``STAGE`` (its name), ``run`` and
    ``PACKAGES`` (the libraries its manifest records): ``run_stage(snakemake, asr)``. Tests may pass a
    stage name and a function instead."""
    if isinstance(stage, ModuleType):
        stage, func, packages = stage.STAGE, stage.run, getattr(stage, "PACKAGES", ())
    assert func is not None, "run_stage needs a stage module, or a stage name and a function"
    job = str(smk.wildcards.get("job", "")) if hasattr(smk.wildcards, "get") else ""
    log_path = smk.log[0] if len(smk.log) else None
    logger = configure_logging(log_path)
    params = stage_params(dict(smk.params.items()), getattr(smk, "config", None) or {})
    ctx = StageContext(
        stage=stage,
        job=job,
        input=smk.input,
        output=smk.output,
        params=SimpleNamespace(**params),
        threads=smk.threads,
        resources=smk.resources,
        log=logger,
    )
    started = manifest.now()
    logger.info("start %s for job %s", stage, job)
    with capture_stderr(log_path):
        try:
            func(ctx)
        except CinesubError as err:
            err.job = err.job or job
            err.stage = err.stage or stage
            _die(logger, err.line())
        except Exception as exc:  # noqa: BLE001 - every failure must become one clear line
            logger.error("traceback:\n%s", traceback.format_exc())
            where = f" (details in {log_path})" if log_path else ""
            _die(logger, CinesubError(_describe_unexpected(exc) + where, job=job, stage=stage).line())
    finished = manifest.now()
    outputs = [path for name, path in smk.output.items() if name != "manifest"] or [
        p for p in smk.output if not str(p).endswith("manifest.json")
    ]
    record = manifest.build(
        stage,
        job,
        list(smk.input),
        outputs,
        params,
        started,
        finished,
        packages=packages,
        models=ctx.models,
        warnings=ctx.warnings,
    )
    manifest.write(smk.output.manifest, record)
    logger.info("done %s in %.2f s", stage, record["duration_s"])


def _die(logger: logging.Logger, line: str) -> None:
    logger.error(line)
    print(f"cinesub: {line}", file=console.terminal(), flush=True)
    sys.exit(REPORTED)  # the console filter then leaves out Snakemake's wrapping of this failure
