"""01's summary of the film: ``jobs/<job>/01_demux/media.json`` (streams, duration, fps, the clip).

One reader and writer (schema ``workflow/schemas/media.schema.json``), following cinesub.segments:
01_demux saves through it; 09_subtitle_gen and 10_mux load through it.
"""

from __future__ import annotations

from .jobfile import JobFile

FILE = JobFile("media.schema.json", "media")
load, save = FILE.load, FILE.save
