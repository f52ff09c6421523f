"""Shared set-up: config and job-sheet validation, wildcard constraints, and the helpers that
decide which file feeds which stage. Loaded first by the Snakefile."""

import json
import os
import sys
from types import SimpleNamespace

import jsonschema
import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, os.path.join(workflow.basedir, "scripts"))

from cinesub import console, jobsheet, languages, messages  # noqa: E402

# One `cinesub:` line per failure on the console, first and last (see scripts/cinesub/console.py).
console.install()

# ---------------------------------------------------------------- validation


def _first_validation_error(exc):
    # snakemake.utils.validate formats the ValidationError into its message; the
    # original is still reachable as the exception it was raised from.
    for arg in [*exc.args, exc.__cause__, exc.__context__]:
        if isinstance(arg, jsonschema.exceptions.ValidationError):
            return arg
    return None


def _one_line(where, exc):
    """Turn Snakemake's multi-line schema error into the one line a user needs."""
    err = _first_validation_error(exc)
    if err is None:
        return f"{where}: {' '.join(str(exc).split())}"
    path = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    message = err.message
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        # a typo in a key: name the closest valid one
        section = ".".join(str(p) for p in err.absolute_path)
        return f"{where}: {messages.unknown_key_message(section, err.instance, err.schema)}"
    if (
        err.validator == "pattern"
        and isinstance(err.schema, dict)
        and err.schema.get("description")
    ):
        # a bare regular expression is no help to a user: say what is allowed
        message = f"{err.instance!r} is not allowed ({err.schema['description']})"
        if path in ("source_lang", "target_langs"):
            hints = [languages.suggest(c) for c in str(err.instance).split(",")]
            message += "".join(f"; {hint}" for hint in hints if hint)
    return f"{where}: {path}: {' '.join(message.split())}"


def stop_on_error(check, *args):
    """Run a start-up check; its error is one `cinesub:` line with no traceback, and the run stops."""
    try:
        return check(*args)
    except WorkflowError as exc:
        console.fail(" ".join(str(arg) for arg in exc.args if isinstance(arg, str)) or str(exc))


def validate_config():
    schema_path = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.json")
    with open(schema_path, encoding="utf-8") as handle:
        schema = json.load(handle)
    # `--config asr='{"beam_size": 3}'` arrives as text: read it as the schema's types first
    config.update(messages.typed(dict(config), schema))
    try:
        validate(config, "../workflow/schemas/config.schema.json")
    except WorkflowError as exc:
        raise WorkflowError(_one_line("config", exc)) from None


stop_on_error(validate_config)


def workflow_path(path):
    """A path from config: as given when it exists relative to the working directory,
    else relative to the workflow (shipped resources work from any working directory)."""
    if os.path.isabs(path) or os.path.exists(path):
        return path
    shipped = os.path.join(workflow.basedir, path)
    return shipped if os.path.exists(shipped) else path


MAX_TARGETS = 5


def load_job_sheet(path):
    if not os.path.exists(path):
        raise WorkflowError(f"job sheet {path}: file not found")
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = next((line for line in handle if line.strip() and not line.startswith("#")), "")
    problem = messages.delimiter_problem(header)
    if problem:
        raise WorkflowError(f"job sheet {path}: {problem}")
    sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment="#").rename(
        columns=str.strip
    )
    missing = [c for c in jobsheet.REQUIRED if c not in sheet.columns]
    if missing:
        raise WorkflowError(f"job sheet {path}: missing column(s) {', '.join(missing)}")
    sheet = sheet.apply(lambda column: column.str.strip())
    try:
        # one validation of the whole frame, which also adds the optional columns with their defaults
        validate(sheet, str(jobsheet.SCHEMA_PATH))
    except WorkflowError:
        # name the first job whose row is wrong (rows alone, without the defaults)
        for _, row in sheet.iterrows():
            try:
                validate(row.to_dict(), str(jobsheet.SCHEMA_PATH), set_default=False)
            except WorkflowError as exc:
                where = f"job sheet {path}, job {row['job']!r}"
                raise WorkflowError(_one_line(where, exc)) from None
        raise
    duplicated = sorted(set(sheet.loc[sheet["job"].duplicated(), "job"]))
    if duplicated:
        raise WorkflowError(f"job sheet {path}: duplicate job id(s) {', '.join(duplicated)}")
    for _, row in sheet.iterrows():
        check_job_row(path, row)
    return sheet.set_index("job", drop=False)


def check_job_row(path, row):
    where = f"job sheet {path}, job {row['job']!r}"
    try:
        languages.get(row["source_lang"])
        targets = split_langs(row["target_langs"])
        for lang in targets:
            languages.get(lang)
    except Exception as exc:
        raise WorkflowError(f"{where}: {exc}") from None
    if row["source_lang"] in targets:
        raise WorkflowError(f"{where}: target {row['source_lang']} is the source language")
    if len(targets) > MAX_TARGETS:
        raise WorkflowError(f"{where}: at most {MAX_TARGETS} target languages")
    if targets and not config["stages"]["translation"]:
        raise WorkflowError(
            f"{where}: target languages {','.join(targets)} need stages.translation: true"
        )
    if row["clip_start"] and row["clip_end"]:
        if float(row["clip_end"]) <= float(row["clip_start"]):
            raise WorkflowError(f"{where}: clip_end must be after clip_start")


def split_langs(cell):
    langs = [part.strip() for part in str(cell).split(",") if part.strip()]
    return list(dict.fromkeys(langs))


def check_stage_switches():
    """Switch combinations that cannot work stop the run at start."""
    stages = config["stages"]
    if stages["tmdb"] and not stages["glossary"]:
        raise WorkflowError(
            "config: stages.tmdb needs stages.glossary: the film's names reach ASR, NER and "
            "translation only through the glossary (switch tmdb off too, or glossary on)"
        )


stop_on_error(check_stage_switches)
JOBS = stop_on_error(load_job_sheet, config["jobs"])


def check_models():
    """Every model the jobs about to run need (ASR, alignment, translation) must be on this machine:
    a rerun triggered by a changed setting deletes the old outputs first, so a missing model must not
    cost finished work. Runs as the onstart hook (after the DAG is known, before any job starts or
    any output is removed; not on dry runs); stdlib only (no numpy/torch)."""
    from cinesub import modelcheck
    from cinesub.errors import CinesubError

    asr_jobs, targets = set(), {}
    for dag_job in workflow.dag.needrun_jobs():
        name, wildcards = dag_job.rule.name, dag_job.wildcards
        if name == "asr_transcribe":
            asr_jobs.add(wildcards.job)
        elif name == "translation_translate":
            targets.setdefault(wildcards.job, []).append(wildcards.lang)
    jobs = {job: (source_lang(job), targets.get(job, [])) for job in asr_jobs | set(targets)}
    try:
        problems = modelcheck.problems(config, jobs, asr_jobs)
    except CinesubError as exc:  # e.g. whisperx with no alignment model for the language
        problems = [str(exc)]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise WorkflowError(f"config: {problems[0]}{more}")


wildcard_constraints:
    job=r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}",
    lang=r"[a-z]{2,3}",


# ---------------------------------------------------------------- job helpers


def job_row(job):
    if job not in JOBS.index:
        raise WorkflowError(f"job {job}: not in the job sheet {config['jobs']}")
    return JOBS.loc[job]


def job_field(field):
    """A params function returning one job-sheet cell for the job wildcard."""

    def field_of(wildcards):
        return job_row(wildcards.job)[field]

    return field_of


# Films that a rule of this workflow makes (the demo), so they are inputs before they exist.
GENERATED_MEDIA = {"demo/film.mkv", "demo/film_hi.mkv"}


def media_of(wildcards):
    """The film as a rule input when it exists; when it does not, no input, so that
    01_demux (not DAG building) fails with a one-line error for this job only."""
    media = job_row(wildcards.job)["media"]
    return [media] if os.path.isfile(media) or media in GENERATED_MEDIA else []


def source_lang(job):
    return job_row(job)["source_lang"]


def target_langs(job):
    return split_langs(job_row(job)["target_langs"])


def subtitle_langs(job):
    """Languages that get a subtitle track: the source (when included) then each target."""
    langs = target_langs(job)
    if config["mux"]["include_source"] or not langs:
        langs = [source_lang(job)] + langs
    return langs


def is_enabled(stage_key):
    return bool(config["stages"][stage_key])


def optional_input(stage_key, path):
    """An input function: ``path`` for the job when ``stage_key`` is enabled, else nothing."""

    def optional(wildcards):
        return [path.format(job=wildcards.job)] if is_enabled(stage_key) else []

    return optional


# ------------------------------------------------------------ params helpers


SETTING_PARAM_SEPARATOR = "__"  # cinesub.runner joins <section>__<key> params back into one section


def section_params(name, leave_out=None, **resolved):
    """Rule params for config section ``name`` (the stage module's ``SECTION``; the stage reads it back
    as ``ctx.params.<name>``): one param per setting that changes the result, each ``{key: value}``, so
    Snakemake's rerun reason names what changed ("before: {'beam_size': 5}, now: {'beam_size': 4}")
    instead of dumping the section. Run settings (``x-run-setting`` in the schema) are left out, so
    changing them reruns nothing; the stage gets them back from the config. ``leave_out``: a schema
    annotation marking the settings its caller never reads (``x-detect-setting``, used by 06's judgement
    alone), so changing one does not rerun that half. ``resolved``: settings the rule hands on resolved
    (a shipped path found from any working directory)."""
    from cinesub.stagecache import annotated_keys, result_settings

    unused = annotated_keys(leave_out, name) if leave_out else frozenset()
    return {
        f"{name}{SETTING_PARAM_SEPARATOR}{key}": {key: value}
        for key, value in {**result_settings(config[name], name), **resolved}.items()
        if key not in unused
    }


def wildcard_value(name):
    def value(wildcards):
        return wildcards[name]

    return value


def job_path(relative):
    def path(wildcards):
        return f"jobs/{wildcards.job}/{relative}"

    return path


def per_job_file(section, dir_key, extension):
    """An input function: the job's optional hand-written file ``<dir>/<job>.<ext>`` when it
    exists (so editing it reruns the stage), else nothing."""

    def optional_file(wildcards):
        path = os.path.join(config[section][dir_key], f"{wildcards.job}.{extension}")
        return [path] if os.path.isfile(path) else []

    return optional_file


def track_langs(wildcards):
    return subtitle_langs(wildcards.job)


def per_track_files(pattern):
    """One file per subtitle language, ``pattern`` relative to jobs/<job>/ with a {lang} field."""

    def files(wildcards):
        return [
            f"jobs/{wildcards.job}/{pattern.format(lang=lang)}"
            for lang in subtitle_langs(wildcards.job)
        ]

    return files


def per_track_format(fmt):
    """One subtitle file per language in format ``fmt``, or nothing when ``subtitles.formats`` omits it."""
    if fmt not in config["subtitles"]["formats"]:
        return []
    return per_track_files(f"09_subtitle_gen/{{lang}}.{fmt}")


def per_track_segments(wildcards):
    """The segments each subtitle track was made from (09's input per language)."""
    return [
        subtitle_source_segments(SimpleNamespace(job=wildcards.job, lang=lang))
        for lang in subtitle_langs(wildcards.job)
    ]


def asr_conda_env():
    return f"../envs/{config['asr']['backend'].replace('-', '_')}.yaml"


def subtitle_format_outputs():
    """One named output per format in ``subtitles.formats``: srt=..., vtt=..."""
    return {
        fmt: f"jobs/{{job}}/09_subtitle_gen/{{lang}}.{fmt}"
        for fmt in config["subtitles"]["formats"]
    }


def report_targets():
    """Every job's review page and report figures, for ``snakemake --report``."""
    return expand(
        ["jobs/{job}/review/review.html", "jobs/{job}/report/timeline.png"], job=JOBS.index
    )


# ------------------------------------------------------- segments flow forward

# Producers of the canonical source-language segments, in pipeline order:
# (stage directory, config switch or None when always on). A new stage that
# refines segments adds one line here; every later consumer picks it up.
SEGMENT_PRODUCERS = [
    ("04_asr", None),
    ("05_ner", "ner"),
    ("06_lyrics_detection", "lyrics"),
    ("07_hallucination_removal", "hallucination"),
]
STAGE_ORDER = [stage for stage, _ in SEGMENT_PRODUCERS] + [
    "08_translation",
    "09_subtitle_gen",
    "10_mux",
]


def latest_segments_before(stage):
    """Path pattern of the segments written by the last enabled producer before ``stage``."""
    position = STAGE_ORDER.index(stage)
    enabled = [
        name
        for name, switch in SEGMENT_PRODUCERS
        if STAGE_ORDER.index(name) < position and (switch is None or is_enabled(switch))
    ]
    return f"jobs/{{job}}/{enabled[-1]}/segments.json"


def segments_input_for(stage):
    """An input function giving ``stage`` the segments of the previous enabled producer."""
    pattern = latest_segments_before(stage)

    def segments(wildcards):
        return pattern.format(job=wildcards.job)

    return segments


def subtitle_source_segments(wildcards):
    """09's input: the final source segments, or the translation for a target language."""
    if wildcards.lang == source_lang(wildcards.job):
        return latest_segments_before("08_translation").format(job=wildcards.job)
    if wildcards.lang not in target_langs(wildcards.job):
        raise WorkflowError(
            f"job {wildcards.job}: {wildcards.lang} is neither the source nor a target language"
        )
    return f"jobs/{wildcards.job}/08_translation/{wildcards.lang}.segments.json"


def final_targets():
    """Per job the subtitled film and, beside it, the page a subtitler reviews it with."""
    return [f"jobs/{job}/{name}" for job in JOBS.index for name in FINAL_FILES]


FINAL_FILES = ("10_mux/out.mkv", "review/review.html")


# ----------------------------------------------------------------- resources


def uses_cuda(section):
    return config[section]["device"] in ("cuda", "auto")


def gpu_slots(section):
    """1 GPU slot for a rule whose model runs on CUDA, else none."""

    def slots(wildcards):
        return 1 if uses_cuda(section) else 0

    return slots


onstart:
    stop_on_error(check_models)


def release_rescheduling_timers():
    """After each scheduling round Snakemake arms a non-daemon ``threading.Timer`` that wakes the
    scheduler when the ``--max-jobs-per-timespan`` window (1 s by default) has passed; the last one
    keeps a finished ``snakemake`` process alive for up to that window. Once the scheduler is done
    nothing is left for them to wake, so they are cancelled."""
    import threading

    for thread in threading.enumerate():
        function = getattr(thread, "function", None)
        if isinstance(thread, threading.Timer) and getattr(function, "__module__", "").startswith(
            "snakemake.scheduling"
        ):
            thread.cancel()


onsuccess:
    release_rescheduling_timers()


onerror:
    release_rescheduling_timers()
