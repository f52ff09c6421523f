"""02_tmdb against a real local HTTP server that imitates TMDB's /search/movie and /movie/{id}/credits,
including rate limits (429 + Retry-After), 500s, timeouts, a refused key and a dead server."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from cinesub import tmdb
from cinesub.configschema import validated_section
from cinesub.errors import CinesubError

V3_KEY = "v3secretkey0123456789abcdef"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJ4eXoifQ.c2lnbmF0dXJlLXNlY3JldA"

SEARCH = {
    "page": 1,
    "results": [
        {
            "id": 11,
            "title": "Dilwale Dulhania Le Jayenge",
            "original_title": "दिलवाले दुल्हनिया ले जायेंगे",
            "release_date": "1995-10-20",
        },
        {"id": 22, "title": "Dilwale", "original_title": "Dilwale", "release_date": "2015-12-18"},
        {"id": 33, "title": "Dilwale Dulhania Le Jayenge (restored)", "release_date": "2021-01-01"},
    ],
}
CREDITS = {
    "id": 11,
    "cast": [
        {"name": "Kajol", "character": "Simran Singh", "order": 1},
        {"name": "Shah Rukh Khan", "character": "Raj Malhotra", "order": 0},
        {"name": "Amrish Puri", "character": "Chaudhry Baldev Singh", "order": 2},
        {"name": "Anupam Kher", "character": "Dharamvir Malhotra / Himself (voice)", "order": 3},
        {"name": "Farida Jalal", "character": "Lajwanti", "order": 4},
    ],
    "crew": [
        {"name": "Aditya Chopra", "job": "Director"},
        {"name": "Aditya Chopra", "job": "Screenplay"},
        {"name": "Jatin-Lalit", "job": "Original Music Composer"},
        {"name": "Someone Catering", "job": "Caterer"},
    ],
}


class FakeTmdb:
    """A scripted TMDB: each path pops planned (status, headers, body, delay) answers, then acts normally."""

    def __init__(self):
        self.plans: dict[str, list[tuple[int, dict, object, float]]] = {}
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                with fake.lock:
                    fake.requests.append({"path": url.path, "query": query, "headers": dict(self.headers)})
                    plan = fake.plans.get(url.path, [])
                    status, headers, body, delay = plan.pop(0) if plan else fake.default(url.path, query)
                if delay:
                    time.sleep(delay)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): exactly what the test wanted

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/3"

    def default(self, path, query):
        if path == "/3/search/movie":
            return 200, {}, SEARCH if "Dilwale" in query.get("query", "") else {"results": []}, 0
        if path in ("/3/movie/11/credits", "/3/movie/22/credits"):
            return 200, {}, {**CREDITS, "id": int(path.split("/")[3])}, 0
        return 404, {}, {"status_message": "not found"}, 0

    def plan(self, path, *responses):
        self.plans.setdefault(path, []).extend(responses)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    fake = FakeTmdb()
    yield fake
    fake.close()


def settings(tmp_path: Path, url: str, **over) -> dict:
    """The tmdb section as the workflow hands it over (schema defaults for what a test leaves out)."""
    base = {
        "metadata_dir": str(tmp_path / "metadata"),
        "api_url": url,
        "timeout_s": 2,
        "retries": 2,
        "backoff_s": 0.01,
        "breaker_threshold": 2,
        "cache_dir": str(tmp_path / "cache"),
        "top_cast": 4,
    }
    return validated_section("tmdb", {**base, **over})


class Recorder:
    def __init__(self):
        self.messages: list[str] = []
        self.sleeps: list[float] = []

    def log(self, message):
        self.messages.append(message)

    def sleep(self, seconds):
        self.sleeps.append(seconds)


def all_text_under(path: Path) -> str:
    return "\n".join(p.name + "\n" + p.read_text(errors="replace") for p in path.rglob("*") if p.is_file())


def test_search_picks_year_match_and_keeps_top_cast_and_key_crew(server, tmp_path):
    rec = Recorder()
    meta = tmdb.resolve_metadata(
        "ddlj",
        "Dilwale Dulhania Le Jayenge",
        "1996",
        settings(tmp_path, server.url),
        {"TMDB_API_KEY": V3_KEY},
        log=rec.log,
        sleep=rec.sleep,
    )
    assert meta["source"] == "api" and meta["tmdb_id"] == 11 and meta["year"] == 1995
    assert [c["name"] for c in meta["cast"]] == ["Shah Rukh Khan", "Kajol", "Amrish Puri", "Anupam Kher"]
    assert meta["crew"] == [
        {"name": "Aditya Chopra", "job": "Director"},
        {"name": "Aditya Chopra", "job": "Screenplay"},
        {"name": "Jatin-Lalit", "job": "Original Music Composer"},
    ]
    assert meta["names"] == [
        "Shah Rukh Khan",
        "Raj Malhotra",
        "Kajol",
        "Simran Singh",
        "Amrish Puri",
        "Chaudhry Baldev Singh",
        "Anupam Kher",
        "Dharamvir Malhotra",
        "Aditya Chopra",
        "Jatin-Lalit",
    ]
    assert meta["warnings"] == []
    search = server.requests[0]
    assert search["path"] == "/3/search/movie" and search["query"]["api_key"] == V3_KEY
    assert "Authorization" not in search["headers"]

    # A second job for the same film is served from the cache: no request reaches the server.
    before = len(server.requests)
    again = tmdb.resolve_metadata(
        "ddlj2", "Dilwale Dulhania Le Jayenge", "1996", settings(tmp_path, server.url), {}, sleep=rec.sleep
    )
    assert len(server.requests) == before
    assert again["source"] == "cache" and again["names"] == meta["names"]


def test_jwt_goes_in_a_bearer_header_and_without_year_the_best_of_top_three_wins(server, tmp_path):
    meta = tmdb.resolve_metadata("d", "Dilwale", "", settings(tmp_path, server.url), {"TMDB_API_KEY": JWT})
    assert meta["tmdb_id"] == 22
    search = server.requests[0]
    assert "api_key" not in search["query"]
    assert search["headers"]["Authorization"] == f"Bearer {JWT}"


def test_429_retry_after_is_honoured_then_succeeds(server, tmp_path):
    rec = Recorder()
    server.plan("/3/search/movie", (429, {"Retry-After": "7"}, {"status_code": 25}, 0))
    meta = tmdb.resolve_metadata(
        "j",
        "Dilwale Dulhania Le Jayenge",
        1995,
        settings(tmp_path, server.url),
        {"TMDB_API_KEY": V3_KEY},
        log=rec.log,
        sleep=rec.sleep,
    )
    assert meta["source"] == "api" and meta["tmdb_id"] == 11
    assert rec.sleeps == [7.0]  # the server's wait, not the 0.01 s backoff
    assert sum(r["path"] == "/3/search/movie" for r in server.requests) == 2


def test_too_long_retry_after_gives_up_at_once(server, tmp_path):
    rec = Recorder()
    server.plan("/3/search/movie", (429, {"Retry-After": "3600"}, {}, 0))
    meta = tmdb.resolve_metadata(
        "j", "Dilwale", 2015, settings(tmp_path, server.url), {"TMDB_API_KEY": V3_KEY}, sleep=rec.sleep
    )
    assert meta["source"] == "none" and rec.sleeps == [] and len(server.requests) == 1
    assert "asked to wait 3600 s" in meta["warnings"][0]


def test_500s_back_off_exponentially_then_succeed(server, tmp_path):
    rec = Recorder()
    server.plan("/3/movie/11/credits", (500, {}, {}, 0), (503, {}, {}, 0))
    meta = tmdb.resolve_metadata(
        "j",
        "Dilwale Dulhania Le Jayenge",
        1995,
        settings(tmp_path, server.url, backoff_s=0.5),
        {"TMDB_API_KEY": V3_KEY},
        log=rec.log,
        sleep=rec.sleep,
    )
    assert meta["source"] == "api" and len(meta["cast"]) == 4
    assert rec.sleeps == [0.5, 1.0]
    assert any("HTTP 503" in m for m in rec.messages)


def test_timeouts_exhaust_retries_and_degrade_with_one_warning(server, tmp_path):
    rec = Recorder()
    slow = (200, {}, SEARCH, 1.5)
    server.plan("/3/search/movie", slow, slow)
    started = time.monotonic()
    conf = settings(tmp_path, server.url, timeout_s=0.2, retries=1)
    meta = tmdb.resolve_metadata(
        "j", "Dilwale", 2015, conf, {"TMDB_API_KEY": V3_KEY}, log=rec.log, sleep=rec.sleep
    )
    assert time.monotonic() - started < 1.4  # two 0.2 s timeouts, not two 1.5 s answers
    assert meta["source"] == "none" and meta["names"] == []
    assert len(meta["warnings"]) == 1 and "timed out after 0.2 s" in meta["warnings"][0]
    assert "config/metadata/README.md" in meta["warnings"][0]
    assert json.loads((tmp_path / "cache" / "breaker.json").read_text())["failures"] == 1


def test_failing_server_trips_the_breaker_across_jobs_and_half_opens_after_reset(server, tmp_path):
    now = [1000.0]
    conf = settings(tmp_path, server.url, retries=1)
    for _ in range(6):
        server.plan("/3/search/movie", (500, {}, {}, 0))
    for job in ("a", "b"):
        meta = tmdb.resolve_metadata(
            job, "Dilwale", 2015, conf, {"TMDB_API_KEY": V3_KEY}, sleep=lambda s: None, clock=lambda: now[0]
        )
        assert meta["source"] == "none"
    assert len(server.requests) == 4  # two jobs, two attempts each
    state = json.loads((tmp_path / "cache" / "breaker.json").read_text())
    assert state == {"failures": 2, "opened_at": 1000.0}

    # Job c (a new process would read the same file) skips the API without a request.
    meta = tmdb.resolve_metadata(
        "c", "Dilwale", 2015, conf, {"TMDB_API_KEY": V3_KEY}, sleep=lambda s: None, clock=lambda: now[0]
    )
    assert len(server.requests) == 4
    assert "circuit breaker open" in meta["warnings"][0] and "300 s" in meta["warnings"][0]

    # After breaker_reset_s one job may try again; the server has recovered, so it closes.
    now[0] += 301
    server.plans.clear()
    meta = tmdb.resolve_metadata(
        "d", "Dilwale", 2015, conf, {"TMDB_API_KEY": V3_KEY}, sleep=lambda s: None, clock=lambda: now[0]
    )
    assert meta["source"] == "api" and meta["tmdb_id"] == 22
    assert json.loads((tmp_path / "cache" / "breaker.json").read_text()) == {"failures": 0, "opened_at": None}


def test_dead_server_fails_fast_once_the_breaker_is_open(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}/3"
    conf = settings(tmp_path, dead_url, retries=1, breaker_threshold=1)
    rec = Recorder()
    first = tmdb.resolve_metadata(
        "a", "Dilwale", 2015, conf, {"TMDB_API_KEY": V3_KEY}, log=rec.log, sleep=rec.sleep
    )
    assert "network error" in first["warnings"][0] and rec.sleeps == [0.01]
    assert any("circuit breaker opened" in m for m in rec.messages)
    second = tmdb.resolve_metadata(
        "b", "Dilwale", 2015, conf, {"TMDB_API_KEY": V3_KEY}, log=rec.log, sleep=rec.sleep
    )
    assert "circuit breaker open" in second["warnings"][0] and rec.sleeps == [0.01]


def test_refused_key_and_unknown_film_degrade_without_tripping_the_breaker(server, tmp_path):
    server.plan("/3/search/movie", (401, {}, {"status_message": "Invalid API key"}, 0))
    conf = settings(tmp_path, server.url, breaker_threshold=1)
    refused = tmdb.resolve_metadata("a", "Dilwale", 2015, conf, {"TMDB_API_KEY": V3_KEY})
    assert "refused the key (HTTP 401)" in refused["warnings"][0] and len(server.requests) == 1
    missing = tmdb.resolve_metadata("b", "No Such Film", 2015, conf, {"TMDB_API_KEY": V3_KEY})
    assert missing["names"] == [] and "no film titled 'No Such Film'" in missing["warnings"][0]
    assert tmdb.CircuitBreaker(tmp_path / "cache" / "breaker.json", 1, 300).seconds_until_retry() == 0


def test_no_key_and_no_cache_degrades_without_network(server, tmp_path):
    meta = tmdb.resolve_metadata("j", "Dilwale", 2015, settings(tmp_path, server.url), {})
    assert meta["source"] == "none" and server.requests == []
    assert "set TMDB_API_KEY" in meta["warnings"][0]
    no_title = tmdb.resolve_metadata("j", "  ", 2015, settings(tmp_path, server.url), {})
    assert "no title for job j" in no_title["warnings"][0]


def test_the_key_never_reaches_logs_metadata_cache_or_manifest(server, tmp_path, caplog):
    for _ in range(3):
        server.plan("/3/search/movie", (500, {}, {}, 0))
    out = tmp_path / "jobs" / "j" / "02_tmdb" / "metadata.json"
    conf = settings(tmp_path, server.url)
    ctx = SimpleNamespace(
        job="j",
        log=logging.getLogger("cinesub.test_tmdb"),
        params=SimpleNamespace(tmdb=conf, title="Dilwale", year="2015"),
        output=SimpleNamespace(metadata=str(out)),
    )
    monkey = pytest.MonkeyPatch()
    monkey.setenv("TMDB_API_KEY", V3_KEY)
    try:
        with caplog.at_level(logging.INFO, logger="cinesub.test_tmdb"):
            tmdb.run(ctx)  # three 500s (slept 0.01 + 0.02 s), then the breaker counts a failure
            server.plans.clear()
            (tmp_path / "cache" / "breaker.json").unlink()
            tmdb.run(ctx)  # now a success that fills the cache
    finally:
        monkey.undo()
    assert server.requests[0]["query"]["api_key"] == V3_KEY  # the key was really sent
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 500" in logged and "retry 1/2" in logged
    assert V3_KEY not in logged
    assert V3_KEY not in all_text_under(tmp_path)
    assert json.loads(out.read_text())["source"] == "api"
    assert tmdb.scrub(f"GET /3/x?api_key={V3_KEY}&query=a", None) == "GET /3/x?api_key=<redacted>&query=a"
    assert repr(tmdb.Credential(V3_KEY)) == "Credential(<redacted>)"


def test_hand_written_metadata_file_wins_and_is_checked(server, tmp_path):
    conf = settings(tmp_path, server.url)
    meta_dir = Path(conf["metadata_dir"])
    meta_dir.mkdir()
    (meta_dir / "j.json").write_text(
        json.dumps(
            {
                "title": "Dahisar Diaries",
                "year": 2024,
                "cast": [{"name": "Asha Rao", "character": "Meera"}, "Vikram Joshi"],
                "crew": [{"name": "Kiran Desai", "job": "Director"}],
                "names": ["Dahisar", "meera"],
                "variants": {"Asha Rao": ["आशा राव"]},
            }
        ),
        encoding="utf-8",
    )
    meta = tmdb.resolve_metadata("j", "ignored", 2020, conf, {"TMDB_API_KEY": V3_KEY})
    assert server.requests == []
    assert meta["source"] == "file" and meta["title"] == "Dahisar Diaries" and meta["year"] == 2024
    assert meta["names"] == ["Asha Rao", "Meera", "Vikram Joshi", "Kiran Desai", "Dahisar"]
    assert meta["variants"] == {"Asha Rao": ["आशा राव"]}
    assert meta["cast"][1] == {"name": "Vikram Joshi", "character": "", "order": 1}

    (meta_dir / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CinesubError, match="not valid JSON"):
        tmdb.resolve_metadata("bad", "x", None, conf, {})
    (meta_dir / "bad.json").write_text(json.dumps({"cast": [{"character": "Nobody"}]}), encoding="utf-8")
    with pytest.raises(CinesubError, match='cast entry 0 needs a "name"'):
        tmdb.resolve_metadata("bad", "x", None, conf, {})
    (meta_dir / "bad.json").write_text(json.dumps({"variants": {"A": "not a list"}}), encoding="utf-8")
    with pytest.raises(CinesubError, match="variants"):
        tmdb.resolve_metadata("bad", "x", None, conf, {})
    (meta_dir / "bad.json").write_text(json.dumps({"crew": [{"job": "Director"}]}), encoding="utf-8")
    with pytest.raises(CinesubError, match="crew entry 0"):
        tmdb.resolve_metadata("bad", "x", None, conf, {})
    (meta_dir / "bad.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CinesubError, match="JSON object"):
        tmdb.resolve_metadata("bad", "x", None, conf, {})


def test_pick_result_rules():
    results = [
        {"id": 1, "title": "Don", "release_date": "1978-05-12"},
        {"id": 2, "title": "Don", "release_date": "2006-10-20"},
        {"id": 3, "title": "Don 2", "release_date": "2011-12-23"},
        {"id": 4, "title": "Don", "release_date": "2007-01-01"},
    ]
    assert tmdb.pick_result(results, "Don", 2006)["id"] == 2  # exact year beats year+1
    assert tmdb.pick_result(results, "Don", 2012)["id"] == 3  # within ±1
    assert tmdb.pick_result(results, "Don", 1990)["id"] == 1  # no year match: best title of top 3
    assert tmdb.pick_result(results, "Don 2", None)["id"] == 3
    assert tmdb.pick_result([], "Don", 2006) is None


def test_character_cleaning_and_retry_after_dates():
    assert tmdb.clean_character("Raj / Rocky (voice)") == ["Raj", "Rocky"]
    assert tmdb.clean_character("Himself") == []
    assert tmdb.parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412500.0) == 10.0
    assert tmdb.parse_retry_after("soon") is None and tmdb.parse_retry_after(None) is None
    assert tmdb.looks_like_jwt(JWT) and not tmdb.looks_like_jwt(V3_KEY)
