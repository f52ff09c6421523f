"""cinesub: film audio to translated, standards-conforming subtitles.

Every pipeline stage is one module here with a pure core (data in, data out) and a
thin I/O edge; the rules in ``rules/`` call the entry points in ``scripts/``.
"""

__version__ = "0.1.0"
