"""02_tmdb: cast and crew names for a film from The Movie Database (TMDB), or from a hand-written file.

Later stages use the names to keep them right: the glossary prompts ASR with them, NER finds them,
translation protects them. The stage never fails a job for want of metadata: with no key, no
network, a dead API (circuit breaker open) or no match it writes an empty name list and one
warning. A hand-written ``<metadata_dir>/<job>.json`` (see config/metadata/README.md) takes
precedence over the API when it exists.

The API key (env ``TMDB_API_KEY``: a v3 key sent as the ``api_key`` query parameter, or a v4
read-access token sent as a bearer header) never appears in logs, manifests, the metadata file,
cache file names or error messages: every URL and error text passes through :func:`scrub`.
"""

from __future__ import annotations

import contextlib
import difflib
import email.utils
import fcntl
import hashlib
import json
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import metadatafile
from .errors import CinesubError
from .fileio import read_json, write_json_atomic
from .languages import unique_texts

STAGE = "02_tmdb"
PACKAGES = ("requests",)  # the libraries whose versions its manifest records
SECTION = "tmdb"  # the config section its rule passes as params (section_params)
ENV_KEY = "TMDB_API_KEY"
# Crew jobs worth keeping: their names are spoken or credited on screen.
KEY_CREW_JOBS = (
    "Director",
    "Writer",
    "Screenplay",
    "Story",
    "Dialogue",
    "Producer",
    "Music",
    "Original Music Composer",
    "Lyricist",
    "Songs",
    "Director of Photography",
)
# A Retry-After longer than this is treated as "unavailable now" rather than waited out.
MAX_RETRY_AFTER_S = 60.0
SEARCH_TOP_N = 3
NON_NAMES = {"himself", "herself", "self", "themselves", "narrator", "cameo", "uncredited"}


class TmdbUnavailable(Exception):
    """The API could not be used for this job (no key, breaker open, refused key, no such film...)."""


class TmdbOutage(TmdbUnavailable):
    """The API did not answer usefully after every retry: counts towards opening the breaker."""


# ----------------------------------------------------------------------------- secrets


@dataclass(frozen=True)
class Credential:
    """A TMDB credential: v3 keys go in the query string, v4 tokens (JWTs) in a bearer header."""

    secret: str

    @property
    def is_bearer(self) -> bool:
        return looks_like_jwt(self.secret)

    def query_params(self) -> dict[str, str]:
        return {} if self.is_bearer else {"api_key": self.secret}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"} if self.is_bearer else {}

    def __repr__(self) -> str:  # keep the secret out of any accidental repr/log
        return "Credential(<redacted>)"


def looks_like_jwt(secret: str) -> bool:
    parts = secret.split(".")
    return len(parts) == 3 and secret.startswith("eyJ") and all(re.fullmatch(r"[\w-]+", p) for p in parts)


def credential_from_env(env: Mapping[str, str]) -> Credential | None:
    secret = (env.get(ENV_KEY) or "").strip()
    return Credential(secret) if secret else None


_SECRET_PARAM = re.compile(r"(?i)(api_key|access_token|token)=[^&\s'\"]*")


def scrub(text: str, secret: str | None = None) -> str:
    """Remove the credential from any text (URL, exception message) before it is logged or raised."""
    cleaned = _SECRET_PARAM.sub(r"\1=<redacted>", str(text))
    if secret:
        cleaned = cleaned.replace(secret, "<redacted>")
    return cleaned


def cache_key(url: str, params: Mapping[str, Any]) -> str:
    """A hash of the key-free request URL, so the cache works for any key (or none) and hides it."""
    safe = {k: str(v) for k, v in params.items() if k.lower() not in {"api_key", "access_token"}}
    canonical = url + "?" + urllib.parse.urlencode(sorted(safe.items()))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- breaker and cache


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock beside ``path`` so concurrent jobs read-modify-write the state in turn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class CircuitBreaker:
    """Consecutive-failure breaker whose state lives in a JSON file, so it spans jobs (processes).

    Closed: requests go through. After ``threshold`` consecutive failed fetches it opens: every job
    skips the API at once for ``reset_s`` seconds. Then one job may try again (half-open); success
    closes it, failure re-opens it for another ``reset_s``.
    """

    def __init__(
        self,
        state_path: str | os.PathLike,
        threshold: int,
        reset_s: float,
        clock: Callable[[], float] = time.time,
    ):
        self.path = Path(state_path)
        self.threshold = max(1, int(threshold))
        self.reset_s = float(reset_s)
        self.clock = clock

    def _read(self) -> dict[str, Any]:
        try:
            state = read_json(self.path)
        except (OSError, ValueError):
            return {"failures": 0, "opened_at": None}
        return state if isinstance(state, dict) else {"failures": 0, "opened_at": None}

    def state(self) -> dict[str, Any]:
        return self._read()

    def seconds_until_retry(self) -> float:
        """0 when requests may go through; otherwise how long the breaker stays open."""
        state = self._read()
        opened_at = state.get("opened_at")
        if opened_at is None:
            return 0.0
        return max(0.0, float(opened_at) + self.reset_s - self.clock())

    def record_success(self) -> None:
        with _locked(self.path):
            write_json_atomic(self.path, {"failures": 0, "opened_at": None})

    def record_failure(self) -> bool:
        """Count one failed fetch; return True when this opens (or re-opens) the breaker."""
        with _locked(self.path):
            state = self._read()
            failures = int(state.get("failures", 0)) + 1
            opened = failures >= self.threshold
            write_json_atomic(
                self.path, {"failures": failures, "opened_at": self.clock() if opened else None}
            )
            return opened


class ResponseCache:
    """JSON responses on disk, one file per key-free request URL hash."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory) / "responses"

    def get(self, key: str) -> Any | None:
        try:
            return read_json(self.dir / f"{key}.json")
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: Any) -> None:
        write_json_atomic(self.dir / f"{key}.json", value)


# ----------------------------------------------------------------------------- HTTP client


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class TmdbClient:
    """GET JSON from TMDB with cache, timeouts, retries with backoff, and the shared breaker."""

    api_url: str
    credential: Credential | None
    breaker: CircuitBreaker
    cache: ResponseCache
    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 1.0
    sleep: Callable[[float], None] = time.sleep
    session: Any = None
    requests_made: int = 0
    served_from_cache: int = 0
    log: Callable[[str], None] = field(default=lambda message: None)

    def get_json(self, path: str, params: Mapping[str, Any]) -> Any:
        url = self.api_url.rstrip("/") + "/" + path.lstrip("/")
        key = cache_key(url, params)
        cached = self.cache.get(key)
        if cached is not None:
            self.served_from_cache += 1
            return cached
        if self.credential is None:
            raise TmdbUnavailable(f"no API key (set {ENV_KEY}) and no cached response")
        wait = self.breaker.seconds_until_retry()
        if wait > 0:
            raise TmdbUnavailable(
                f"circuit breaker open after repeated API failures; skipping the API for another {wait:.0f} s"
            )
        try:
            data = self._fetch(url, params)
        except TmdbOutage:
            if self.breaker.record_failure():
                self.log(
                    f"circuit breaker opened: TMDB skipped by every job for {self.breaker.reset_s:.0f} s"
                )
            raise
        self.breaker.record_success()
        self.cache.put(key, data)
        return data

    def _fetch(self, url: str, params: Mapping[str, Any]) -> Any:
        import requests

        session = self.session or requests.Session()
        secret = self.credential.secret if self.credential else None
        query = {**params, **(self.credential.query_params() if self.credential else {})}
        headers = {"Accept": "application/json", **(self.credential.headers() if self.credential else {})}
        shown = scrub(url, secret)
        last_problem = "no attempt made"
        for attempt in range(self.retries + 1):
            retry_after = None
            self.requests_made += 1
            try:
                response = session.get(url, params=query, headers=headers, timeout=self.timeout_s)
            except requests.Timeout:
                last_problem = f"timed out after {self.timeout_s:g} s"
            except requests.RequestException as exc:
                last_problem = f"network error: {scrub(type(exc).__name__ + ': ' + str(exc), secret)[:200]}"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        return response.json()
                    except ValueError:
                        last_problem = "response is not JSON"
                elif status in (401, 403):
                    # A bad key is not an outage: retrying or tripping the breaker would not help.
                    raise TmdbUnavailable(f"API refused the key (HTTP {status})")
                elif status == 404:
                    raise TmdbUnavailable(f"{shown}: not found (HTTP 404)")
                elif status == 429 or status >= 500:
                    last_problem = f"HTTP {status}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if retry_after is not None and retry_after > MAX_RETRY_AFTER_S:
                        raise TmdbOutage(f"{shown}: HTTP {status}, asked to wait {retry_after:.0f} s")
                else:
                    raise TmdbUnavailable(f"{shown}: unexpected HTTP {status}")
            if attempt < self.retries:
                delay = retry_after if retry_after is not None else self.backoff_s * (2**attempt)
                self.log(f"TMDB {shown}: {last_problem}; retry {attempt + 1}/{self.retries} in {delay:.2f} s")
                self.sleep(delay)
        raise TmdbOutage(f"{shown}: {last_problem} (after {self.retries + 1} attempts)")


# ----------------------------------------------------------------------------- pure core


def release_year(result: Mapping[str, Any]) -> int | None:
    date = str(result.get("release_date") or "")
    return int(date[:4]) if re.match(r"\d{4}", date) else None


def _title_similarity(title: str, result: Mapping[str, Any]) -> float:
    wanted = title.casefold().strip()
    candidates = [str(result.get(k) or "") for k in ("title", "original_title")]
    return max(difflib.SequenceMatcher(None, wanted, c.casefold().strip()).ratio() for c in candidates)


def pick_result(results: list[Mapping[str, Any]], title: str, year: int | None) -> Mapping[str, Any] | None:
    """The search hit for ``title``/``year``: a release within ±1 year (closest year, then most similar
    title, then TMDB's rank); otherwise the most similar title among the top three results."""
    if not results:
        return None
    ranked = list(enumerate(results))
    if year is not None:
        near = [
            (rank, r)
            for rank, r in ranked
            if release_year(r) is not None and abs(release_year(r) - year) <= 1
        ]
        if near:
            return min(
                near,
                key=lambda item: (
                    abs(release_year(item[1]) - year),
                    -_title_similarity(title, item[1]),
                    item[0],
                ),
            )[1]
    top = ranked[:SEARCH_TOP_N]
    return min(top, key=lambda item: (-_title_similarity(title, item[1]), item[0]))[1]


def clean_character(character: str) -> list[str]:
    """Character names from a credit such as ``"Raj Malhotra / Rocky (voice)"``; drops "Himself"."""
    without_notes = re.sub(r"\([^)]*\)", " ", character or "")
    names = []
    for part in re.split(r"\s*/\s*|\s*;\s*", without_notes):
        part = " ".join(part.split()).strip(" -,")
        if part and part.casefold() not in NON_NAMES:
            names.append(part)
    return names


def summarize_credits(credits: Mapping[str, Any], top_cast: int) -> tuple[list[dict], list[dict]]:
    """Top ``top_cast`` cast members by billing order and the key crew, TMDB fields trimmed."""
    cast_rows = sorted(credits.get("cast") or [], key=lambda c: (c.get("order", 10**6), c.get("name", "")))
    cast = [
        {"name": c["name"], "character": c.get("character") or "", "order": int(c.get("order", i))}
        for i, c in enumerate(cast_rows[:top_cast])
        if c.get("name")
    ]
    crew, seen = [], set()
    for member in credits.get("crew") or []:
        job = member.get("job")
        if job in KEY_CREW_JOBS and member.get("name") and (member["name"], job) not in seen:
            seen.add((member["name"], job))
            crew.append({"name": member["name"], "job": job})
    return cast, crew


def collect_names(cast: list[Mapping[str, Any]], crew: list[Mapping[str, Any]]) -> list[str]:
    """Every person and character name, in billing order, deduplicated case-insensitively."""
    candidates: list[str] = []
    for member in cast:
        candidates.append(member["name"])
        candidates.extend(clean_character(member.get("character", "")))
    candidates.extend(member["name"] for member in crew)
    return unique_texts(candidates)


def empty_metadata(
    title: str, year: int | None, source: str = "none", warnings: list[str] | None = None
) -> dict[str, Any]:
    return {
        "source": source,
        "title": title,
        "year": year,
        "tmdb_id": None,
        "cast": [],
        "crew": [],
        "names": [],
        "variants": {},
        "warnings": list(warnings or []),
    }


def metadata_from_file(path: str | os.PathLike, title: str, year: int | None) -> dict[str, Any]:
    """Read a hand-written metadata file (format: config/metadata/README.md) into the stage's shape."""
    try:
        data = read_json(path)
    except ValueError as exc:
        raise CinesubError(f"metadata file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CinesubError(f"metadata file {path} must hold a JSON object")
    cast = []
    for i, member in enumerate(data.get("cast") or []):
        if isinstance(member, str):
            member = {"name": member}
        if not isinstance(member, dict) or not member.get("name"):
            raise CinesubError(f'metadata file {path}: cast entry {i} needs a "name"')
        cast.append(
            {
                "name": str(member["name"]),
                "character": str(member.get("character") or ""),
                "order": int(member.get("order", i)),
            }
        )
    crew = []
    for i, member in enumerate(data.get("crew") or []):
        if not isinstance(member, dict) or not member.get("name"):
            raise CinesubError(f'metadata file {path}: crew entry {i} needs a "name"')
        crew.append({"name": str(member["name"]), "job": str(member.get("job") or "")})
    variants = data.get("variants") or {}
    if not isinstance(variants, dict) or not all(isinstance(v, list) for v in variants.values()):
        raise CinesubError(f'metadata file {path}: "variants" must map a name to a list of spellings')
    names = collect_names(cast, crew)
    known = {n.casefold() for n in names}
    names += [str(n) for n in data.get("names") or [] if str(n).casefold() not in known]
    return {
        "source": "file",
        "title": str(data.get("title") or title),
        "year": data.get("year", year),
        "tmdb_id": data.get("tmdb_id"),
        "cast": cast,
        "crew": crew,
        "names": names,
        "variants": {str(k): [str(s) for s in v] for k, v in variants.items()},
        "warnings": [],
    }


def fetch_metadata(client: TmdbClient, title: str, year: int | None, top_cast: int) -> dict[str, Any]:
    """Search TMDB for the film and summarize its credits; raises TmdbUnavailable."""
    search = client.get_json("search/movie", {"query": title, "include_adult": "false"})
    result = pick_result(list(search.get("results") or []), title, year)
    if result is None:
        meta = empty_metadata(title, year, warnings=[f"TMDB has no film titled {title!r}"])
        meta["source"] = "cache" if client.requests_made == 0 else "api"
        return meta
    credits = client.get_json(f"movie/{int(result['id'])}/credits", {})
    cast, crew = summarize_credits(credits, top_cast)
    return {
        "source": "cache" if client.requests_made == 0 else "api",
        "title": result.get("title") or title,
        "year": release_year(result),
        "tmdb_id": int(result["id"]),
        "cast": cast,
        "crew": crew,
        "names": collect_names(cast, crew),
        "variants": {},
        "warnings": [],
    }


def _parse_year(year: Any) -> int | None:
    text = str(year if year is not None else "").strip()
    return int(float(text)) if re.fullmatch(r"\d{4}(\.0)?", text) else None


def resolve_metadata(
    job: str,
    title: str,
    year: Any,
    settings: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    log: Callable[[str], None] = lambda m: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    session: Any = None,
) -> dict[str, Any]:
    """The metadata for one job: hand-written file, else TMDB (cache first), else empty with a warning."""
    title = " ".join(str(title or "").split())
    year_int = _parse_year(year)
    metadata_file = Path(settings["metadata_dir"]) / f"{job}.json"
    if metadata_file.is_file():
        log(f"using hand-written metadata {metadata_file}")
        return metadata_from_file(metadata_file, title, year_int)
    if not title:
        return empty_metadata(
            title,
            year_int,
            warnings=[f"no title for job {job} in the job sheet and no {metadata_file}: names list is empty"],
        )
    cache_dir = Path(settings["cache_dir"])
    credential = credential_from_env(env)
    client = TmdbClient(
        api_url=str(settings["api_url"]),
        credential=credential,
        breaker=CircuitBreaker(
            cache_dir / "breaker.json",
            int(settings["breaker_threshold"]),
            float(settings["breaker_reset_s"]),
            clock=clock,
        ),
        cache=ResponseCache(cache_dir),
        timeout_s=float(settings["timeout_s"]),
        retries=int(settings["retries"]),
        backoff_s=float(settings["backoff_s"]),
        sleep=sleep,
        session=session,
        log=log,
    )
    try:
        return fetch_metadata(client, title, year_int, int(settings["top_cast"]))
    except TmdbUnavailable as exc:
        problem = scrub(str(exc), credential.secret if credential else None)
        return empty_metadata(
            title,
            year_int,
            warnings=[
                (
                    f"TMDB unavailable ({problem}); no cast names for {title!r}. Write {metadata_file} "
                    f"by hand (see config/metadata/README.md) to supply them"
                )
            ],
        )


# ----------------------------------------------------------------------------- stage edge


def run(ctx) -> None:
    settings = dict(ctx.params.tmdb)
    secret = (os.environ.get(ENV_KEY) or "").strip() or None

    def log(message: str) -> None:
        ctx.log.info("%s", scrub(message, secret))

    metadata = resolve_metadata(ctx.job, ctx.params.title, ctx.params.year, settings, os.environ, log=log)
    for warning in metadata["warnings"]:
        ctx.log.warning("%s", scrub(warning, secret))
    ctx.log.info(
        "metadata source %s: %d cast, %d crew, %d names",
        metadata["source"],
        len(metadata["cast"]),
        len(metadata["crew"]),
        len(metadata["names"]),
    )
    scrubbed = json.loads(scrub(json.dumps(metadata, ensure_ascii=False), secret))
    metadatafile.save(ctx.output.metadata, scrubbed)
