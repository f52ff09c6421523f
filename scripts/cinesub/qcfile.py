"""09's conformance check of one language's cues: ``jobs/<job>/09_subtitle_gen/<lang>.qc.json``.

One reader and writer (schema ``workflow/schemas/qc.schema.json``), following cinesub.segments:
09_subtitle_gen saves through it; the report and the review page load through it.
"""

from __future__ import annotations

from .jobfile import JobFile

FILE = JobFile("qc.schema.json", "qc")
load, save = FILE.load, FILE.save
