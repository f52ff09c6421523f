"""06's record of the songs it judged: ``jobs/<job>/06_lyrics_detection/songs.json``.

One reader and writer (schema ``workflow/schemas/songs.schema.json``), following cinesub.segments:
06 saves through it; the report and the review page load through it.
"""

from __future__ import annotations

from .jobfile import JobFile

FILE = JobFile("songs.schema.json", "songs")
load, load_optional, save = FILE.load, FILE.load_optional, FILE.save
