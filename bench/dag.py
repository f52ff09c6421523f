"""Figure 3: ``snakemake -n`` (parse, validate the job sheet, build the DAG) for 10, 100, 500 jobs."""

from __future__ import annotations

import common


def run(sizes: tuple[int, ...] = (10, 100, 500), runs: int = 3) -> dict:
    film, _, _ = common.speech_film(10)
    results = {}
    for size in sizes:
        workdir = common.OUT / "dag" / f"jobs_{size}"
        jobs = [
            {
                "job": f"film{i:04d}",
                "media": str(film),
                "source_lang": "en",
                "title": f"Film {i}",
                "year": "2026",
            }
            for i in range(size)
        ]
        common.write_workdir(workdir, jobs, {"stages": common.missing_stages()})
        walls, planned = [], None
        for _ in range(runs):
            result = common.timed_run(
                common.snakemake_command(workdir, "-n", "--quiet", "rules"), cwd=workdir
            )
            if result["rc"] != 0:
                raise SystemExit(f"dry run of {size} jobs failed:\n{result['output'][-3000:]}")
            walls.append(result["wall_s"])
            planned = _total_jobs(result["output"])
        results[str(size)] = {"dry_run_s_median": common.median(walls), "runs_s": walls, "dag_jobs": planned}
        print(f"  dry run {size} jobs: {common.median(walls):.2f} s ({planned} DAG jobs)", flush=True)
    return {"sizes": results}


def _total_jobs(output: str) -> int | None:
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "total" and parts[1].isdigit():
            return int(parts[1])
    return None


def table(result: dict) -> str:
    return "; ".join(
        f"{size} jobs {row['dry_run_s_median']:.2f} s ({row['dag_jobs']} DAG jobs)"
        for size, row in result["sizes"].items()
    )
