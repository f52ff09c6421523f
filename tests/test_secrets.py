"""The TMDB key never appears in any file a run leaves behind, nor in what it prints.

Two real runs through the CLI: a v3 key (sent as the ``api_key`` query parameter) against a local
fake TMDB that fails first with a body echoing the request URL and then answers; and a v4 bearer
token with the API unreachable. Every file under the working directory (stage outputs, manifests,
logs, benchmarks, .snakemake logs and metadata, the response cache, the HTML report) and the
console output are searched for the key, also URL- and base64-encoded.
"""

from __future__ import annotations

import base64
import urllib.parse
import uuid
from pathlib import Path

import pytest
from conftest import NO_OPTIONAL_STAGES, run_snakemake, write_workdir
from reliability import short_film
from test_tmdb import FakeTmdb

pytestmark = pytest.mark.slow

V3_KEY = "c1nesub" + uuid.uuid4().hex[:25]  # 32 characters, like a real v3 key
BEARER = "eyJhbGciOiJIUzI1NiJ9." + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=") + ".c1ne"


def forms(secret: str) -> list[bytes]:
    """The secret as text, URL-encoded and inside base64 at each of the three alignments."""
    found = [secret.encode(), urllib.parse.quote(secret, safe="").encode()]
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + secret.encode())
        skip = (pad * 4 + 2) // 3 + 1  # characters that still depend on the padding
        found.append(encoded[skip : skip + 24])
    return found


def leaks(root: Path, secret: str, *texts: str) -> list[str]:
    needles = forms(secret)
    hits = [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and any(n in p.read_bytes() for n in needles)
    ]
    hits += [
        f"console output {i}" for i, text in enumerate(texts) if any(n in text.encode() for n in needles)
    ]
    return hits


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> Path:
    return short_film(tmp_path_factory.mktemp("films"), "river")


def test_v3_key_with_a_fake_tmdb_never_leaks(tmp_path, film):
    server = FakeTmdb()
    try:
        echo = {"status_message": "internal error", "request": "/3/search/movie?api_key=" + V3_KEY}
        server.plan("/3/search/movie", (500, {}, echo, 0))
        jobs = [
            {"job": "dilwale", "media": str(film), "source_lang": "en", "title": "Dilwale", "year": "2015"},
            {"job": "unknown", "media": str(film), "source_lang": "en", "title": "No Such Film"},
        ]
        workdir = write_workdir(
            tmp_path / "work",
            jobs,
            {
                "stages": {**NO_OPTIONAL_STAGES, "tmdb": True, "glossary": True},
                "tmdb": {"api_url": server.url, "retries": 2, "backoff_s": 0.01},
            },
        )
        env = {"TMDB_API_KEY": V3_KEY}
        run = run_snakemake(workdir, env=env)
        report = run_snakemake(workdir, "--report", "report.html", env=env, check=False)
    finally:
        server.close()
    assert any(r["query"].get("api_key") == V3_KEY for r in server.requests), "the key was never used"
    assert '"source": "api"' in (workdir / "jobs/dilwale/02_tmdb/metadata.json").read_text()
    assert report.returncode == 0, report.stderr[-2000:]
    assert (workdir / "report.html").stat().st_size > 0
    assert leaks(workdir, V3_KEY, run.stdout, run.stderr, report.stdout, report.stderr) == []


def test_bearer_token_with_tmdb_unreachable_never_leaks(tmp_path, film):
    jobs = [{"job": "offline", "media": str(film), "source_lang": "en", "title": "Dilwale"}]
    workdir = write_workdir(
        tmp_path / "work",
        jobs,
        {
            "stages": {**NO_OPTIONAL_STAGES, "tmdb": True, "glossary": True},
            "tmdb": {"api_url": "http://127.0.0.1:9/3", "retries": 1, "backoff_s": 0.01},
        },
    )
    run = run_snakemake(workdir, "jobs/offline/02_tmdb/metadata.json", env={"TMDB_API_KEY": BEARER})
    log = (workdir / "jobs/offline/logs/02_tmdb.log").read_text()
    assert "TMDB unavailable" in log  # the run really tried with the token
    assert leaks(workdir, BEARER, run.stdout, run.stderr) == []


def test_the_scan_finds_a_planted_key(tmp_path):
    """The scanner itself works: plain, URL-encoded and base64-embedded copies are all found."""
    planted = {
        "plain.log": f"key={V3_KEY}".encode(),
        "url.txt": urllib.parse.quote(f"a={BEARER}").encode(),
        "embedded.html": b"data:;base64," + base64.b64encode(b"yy" + V3_KEY.encode()),
    }
    for name, content in planted.items():
        (tmp_path / name).write_bytes(content)
    assert sorted(leaks(tmp_path, V3_KEY)) == ["embedded.html", "plain.log"]
    assert leaks(tmp_path, BEARER) == ["url.txt"]
