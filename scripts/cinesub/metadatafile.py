"""02's film metadata: ``jobs/<job>/02_tmdb/metadata.json`` (cast, crew, names and their spellings).

One reader and writer (schema ``workflow/schemas/metadata.schema.json``), following cinesub.segments:
02_tmdb saves through it, 03_glossary_load loads through it.
"""

from __future__ import annotations

from .jobfile import JobFile

FILE = JobFile("metadata.schema.json", "metadata")
load, load_optional, save = FILE.load, FILE.load_optional, FILE.save
