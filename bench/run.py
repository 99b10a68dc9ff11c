"""`make bench`: the product's job against DuckDB, Polars and pandas on the same files.

    python bench/run.py --scale 1      # 31,788,324 rows; 0.1 and 10 for the scaling runs

    python bench/run.py --scale 1 --engines "" --jobs churn   # the other jobs only

Generates the H&M-shaped data once per scale (cached under data/bench/), then runs each
engine in a fresh process on Parquet and CSV (Parquet only at 10x), recording wall time
and the peak memory of the whole process tree (JVM included). Checks that the product's
per-customer metrics and grades equal the DuckDB peer's. Then times the product's other
jobs (`--jobs`, default churn at 1x and below) on the Parquet run's lakehouse, and
rewrites docs/benchmarks.md from every scale measured so far (docs/benchmarks.json).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

from rfm_spark.synthetic import FULL_SCALE_CUSTOMERS, FULL_SCALE_ROWS

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DATA = REPO / "data" / "bench"
RESULTS = REPO / "docs" / "benchmarks.json"
REPORT = REPO / "docs" / "benchmarks.md"
ENGINES = ("product", "duckdb", "polars", "pandas")
JOBS = ("churn",)
JOB_WORK = {"churn": "`jobs/churn.py` with its defaults: 6 observation dates, labels and "
                     "features, BG/NBD + Gamma-Gamma, GBT and logistic trained, validated, "
                     "refitted and saved, every customer scored into Delta"}
PANDAS_GIB_PER_FULL_SCALE = 5.0  # measured at 1x; pandas holds the whole table in memory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--jobs", default=None,
                        help=f"comma-separated, of {', '.join(JOBS)} (default: all at 1x and "
                             "below, none above); they need the product's Parquet lakehouse")
    args = parser.parse_args()
    scale = args.scale
    engines = [e for e in args.engines.split(",") if e]
    jobs = [j for j in (args.jobs if args.jobs is not None
                        else ",".join(JOBS) if scale <= 1 else "").split(",") if j]
    formats = ["parquet"] if scale > 1 else ["parquet", "csv"]
    rows = round(FULL_SCALE_ROWS * scale)
    customers = round(FULL_SCALE_CUSTOMERS * scale)
    folder = DATA / f"scale-{scale:g}"
    for fmt in formats:
        ensure_data(folder / fmt, fmt, rows, customers)

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    entry = results.setdefault(f"{scale:g}", {})
    entry.update(rows=rows, customers=customers, machine=machine(), versions=versions())
    check = None
    if engines:
        measured = []
        for fmt in formats:
            for engine in engines:
                measured.append(run_engine(engine, fmt, folder, scale))
                print(json.dumps(measured[-1]), flush=True)
        check = verify(folder, formats[0]) if {"product", "duckdb"} <= set(engines) else None
        entry.update(runs=measured, check=check, date=dt.date.today().isoformat())
    if jobs:
        if not (folder / "lake-parquet" / "rfm_runs").exists():
            sys.exit("the jobs need the product's Parquet run: add product to --engines")
        entry["jobs"] = []
        for job in jobs:
            entry["jobs"].append(run_job(job, folder))
            print(json.dumps(entry["jobs"][-1]), flush=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    REPORT.write_text(render(results))
    print(f"wrote {REPORT.relative_to(REPO)}")
    failed = any(j["exit_code"] for j in entry.get("jobs", []) if j["job"] in jobs)
    return 1 if failed or (check is not None and not check["all_equal"]) else 0


def ensure_data(path: Path, fmt: str, rows: int, customers: int) -> None:
    if (path / "_SUCCESS").exists():
        return
    need_gib = rows * (120 if fmt == "csv" else 40) / 2**30 * 1.5
    free_gib = shutil.disk_usage(DATA.parent if DATA.exists() else REPO).free / 2**30
    if free_gib < need_gib:
        sys.exit(f"not enough disk for {path}: about {need_gib:.0f} GiB needed, "
                 f"{free_gib:.0f} GiB free")
    subprocess.run([PYTHON, "jobs/generate.py", "--output", str(path), "--format", fmt,
                    "--rows", str(rows), "--customers", str(customers)], cwd=REPO, check=True)


def command(engine: str, fmt: str, folder: Path) -> list[str]:
    source = str(folder / fmt)
    if engine == "product":
        lake = folder / f"lake-{fmt}"
        shutil.rmtree(lake, ignore_errors=True)
        return [PYTHON, "jobs/segment.py", "--config", "conf/default.yaml",
                "--config", "bench/quartiles.yaml", "--input", source, "--format", fmt,
                "--lakehouse", str(lake), "--run-id", "bench"]
    return [PYTHON, "bench/peers.py", engine, fmt, source, str(folder / f"{engine}-{fmt}.parquet")]


def job_command(job: str, folder: Path) -> list[str]:
    """The job on the product's Parquet run (`--run-id bench`), with the run's config."""
    if job == "churn":
        return [PYTHON, "jobs/churn.py", "--config", "conf/default.yaml",
                "--config", "bench/quartiles.yaml", "--input", str(folder / "parquet"),
                "--format", "parquet", "--lakehouse", str(folder / "lake-parquet"),
                "--run-id", "bench"]
    raise SystemExit(f"unknown job {job!r}; known: {', '.join(JOBS)}")


def run_job(job: str, folder: Path) -> dict:
    record = {"job": job, "date": dt.date.today().isoformat()}
    return {**record, **measure(job_command(job, folder), folder / f"job-{job}.log")}


def run_engine(engine: str, fmt: str, folder: Path, scale: float) -> dict:
    record = {"engine": engine, "format": fmt}
    if engine == "pandas" and PANDAS_GIB_PER_FULL_SCALE * scale > 0.8 * machine()["memory_gib"]:
        return {**record, "skipped": f"needs about {PANDAS_GIB_PER_FULL_SCALE * scale:.0f} GiB "
                                     f"of memory; the machine has {machine()['memory_gib']}"}
    return {**record, **measure(command(engine, fmt, folder), folder / f"{engine}-{fmt}.log")}


def measure(argv: list[str], log: Path) -> dict:
    """Wall time and the process tree's peak resident memory of one command."""
    started = time.perf_counter()
    with log.open("w") as out:
        process = psutil.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        while process.poll() is None:
            peak = max(peak, tree_rss(process))
            time.sleep(0.05)
    seconds = time.perf_counter() - started
    record = {"seconds": round(seconds, 1), "peak_gib": round(peak / 2**30, 2),
              "exit_code": process.returncode}
    if process.returncode != 0:
        record["error"] = log.read_text()[-500:]
    return record


def tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        for member in [process, *process.children(recursive=True)]:
            total += member.memory_info().rss
    except psutil.NoSuchProcess:
        pass
    return total


def verify(folder: Path, fmt: str) -> dict:
    """The product's metrics and grades against DuckDB's, customer by customer."""
    import duckdb
    product = folder / f"lake-{fmt}" / "rfm_customers" / "run_id=bench" / "*.parquet"
    peer = folder / f"duckdb-{fmt}.parquet"
    row = duckdb.sql(f"""
        SELECT count(*) AS customers,
               count(*) FILTER (WHERE p.customer_id IS NULL OR d.customer_id IS NULL) AS unmatched,
               count(*) FILTER (WHERE p.recency_days <> d.recency_days
                                   OR p.frequency <> d.frequency
                                   OR p.monetary <> d.monetary) AS metric_differences,
               count(*) FILTER (WHERE p.r_grade <> d.r_grade OR p.f_grade <> d.f_grade
                                   OR p.m_grade <> d.m_grade) AS grade_differences
        FROM read_parquet('{product}') p
        FULL JOIN read_parquet('{peer}') d USING (customer_id)
    """).fetchall()[0]
    check = dict(zip(("customers", "unmatched", "metric_differences", "grade_differences"), row))
    check["all_equal"] = row[1] == row[2] == row[3] == 0
    return check


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30)}


def versions() -> dict:
    from importlib.metadata import version
    return {name: version(name) for name in
            ("pyspark", "delta-spark", "duckdb", "polars", "pandas", "pyarrow")} | {
        "delta jars": next((p.name for p in (REPO / ".venv" / "delta-jars").glob("*delta-spark*")),
                           "?"), "python": platform.python_version()}


def render(results: dict) -> str:
    lines = ["# Benchmarks", "",
             "Written by `make bench` (`bench/run.py`); do not edit by hand. Wall time is the",
             "whole process, start to exit (JVM start and Delta writes included for the",
             "product); peak memory is the largest resident set of the process tree.",
             "The product runs `jobs/segment.py` with `conf/default.yaml` and",
             "`bench/quartiles.yaml` (4 x 4 x 4 quantile grades) and writes all four Delta",
             "tables; the peers (`bench/peers.py`) compute the same metrics and quartile",
             "grades and write one Parquet file.", ""]
    for scale, result in sorted(results.items(), key=lambda item: float(item[0])):
        lines += [f"## Scale {scale}: about {result['rows']:,} rows, "
                  f"{result['customers']:,} customers",
                  "", f"Measured {result.get('date', '-')} on {result['machine']['cpu']}, "
                  f"{result['machine']['cores']} cores, {result['machine']['memory_gib']} GiB; "
                  + ", ".join(f"{k} {v}" for k, v in result["versions"].items()) + ".", "",
                  "| engine | format | wall time | peak memory | time vs product |",
                  "|---|---|---|---|---|"]
        product = {r["format"]: r.get("seconds") for r in result.get("runs", [])
                   if r["engine"] == "product"}
        for run in result.get("runs", []):
            if "skipped" in run:
                lines.append(f"| {run['engine']} | {run['format']} | skipped: "
                             f"{run['skipped']} | | |")
                continue
            ratio = (f"{run['seconds'] / product[run['format']]:.2f}x"
                     if product.get(run["format"]) else "")
            failed = " (failed)" if run["exit_code"] else ""
            lines.append(f"| {run['engine']} | {run['format']} | {run['seconds']} s{failed} | "
                         f"{run['peak_gib']} GiB | {ratio} |")
        check = result.get("check")
        if check:
            lines += ["", f"Product vs DuckDB, customer by customer: {check['customers']:,} "
                          f"customers, {check['unmatched']} unmatched, "
                          f"{check['metric_differences']} with different metrics, "
                          f"{check['grade_differences']} with different grades."]
        if result.get("jobs"):
            lines += ["", "The product's other jobs on the Parquet run's lakehouse:", "",
                      "| job | what it does | wall time | peak memory | measured |",
                      "|---|---|---|---|---|"]
            for job in result["jobs"]:
                failed = " (failed)" if job["exit_code"] else ""
                lines.append(f"| {job['job']} | {JOB_WORK[job['job']]} | {job['seconds']} s"
                             f"{failed} | {job['peak_gib']} GiB | {job['date']} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
