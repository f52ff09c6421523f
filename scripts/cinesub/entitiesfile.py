"""05's report of the names it found and rewrote: ``jobs/<job>/05_ner/entities.json``.

One reader and writer (schema ``workflow/schemas/entities.schema.json``), following cinesub.segments:
05_ner saves through it; the review page loads through it.
"""

from __future__ import annotations

from .jobfile import JobFile

FILE = JobFile("entities.schema.json", "entities")
load, load_optional, save = FILE.load, FILE.load_optional, FILE.save
