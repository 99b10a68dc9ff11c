"""`make bench`: the product's job against DuckDB, Polars and pandas on the same files.

    python bench/run.py --scale 1      # 31,788,324 rows; 0.1 and 10 for the scaling runs

    python bench/run.py --scale 1 --engines "" --jobs churn   # the other jobs only

Generates the H&M-shaped data once per scale (cached under data/bench/), then runs each
engine in a fresh process on Parquet and CSV (Parquet only at 10x), recording wall time,
the peak memory of the whole process tree (JVM included) and the product's stage times;
`floor` (`bench/floor.py`) measures each stage's bare-Spark floor in the same run.
Checks that the product's per-customer metrics and grades equal the DuckDB peer's. Then
times the product's other jobs (`--jobs`, default all at 1x and below) on the Parquet
run's lakehouse, each beside its peer where one exists (lifetimes, mlxtend; a peer that
fails, runs out of time or memory is recorded so), prints what got slower than the
previous entry of the scale by more than 10% (`SLOWER:` lines), and rewrites
docs/benchmarks.md from every scale measured so far (docs/benchmarks.json).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
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
ENGINES = ("product", "floor", "duckdb", "polars", "pandas")
JOBS = ("backfill", "churn", "basket", "campaign", "report")
JOB_WORK = {
    "backfill": "`jobs/backfill.py`: 12 month-end runs (2019-09-30 to 2020-08-31) from one "
                "per-customer-day aggregate, each with its migrations, into a new lakehouse "
                "(`bench/backfill.yaml`: rows after each date are counted, not copied to "
                "rfm_rejects)",
    "churn": "`jobs/churn.py` with its defaults: 6 observation dates, labels and features, "
             "BG/NBD + Gamma-Gamma, GBT and logistic trained, validated, refitted and saved, "
             "every customer scored into Delta",
    "basket": "`jobs/basket.py` with its defaults: baskets per customer, day and channel, "
              "FP-Growth per segment, Fisher tests, population lift, recommendations for "
              "every customer, both tables written",
    "campaign assign": "`jobs/campaign.py assign`: test and control arms in every cell of "
                       "the run, written to Delta",
    "campaign measure": "`jobs/campaign.py measure`: the input plus 30 days of generated "
                        "responses read, response and lift per cell, Newcombe intervals",
    "report": "`jobs/report.py`: the run's HTML report, every section with data (after the "
              "jobs above: campaigns, churn, basket rules)",
    "churn peer: lifetimes": "lifetimes' BetaGeoFitter on every customer's (x, t_x, T) at "
                             "the last date (pandas), P(alive) and 90-day expected purchases: "
                             "the BG/NBD part of the churn job only, at one date",
    "basket peer: mlxtend": "mlxtend's FP-Growth on the sparse one-hot baskets of all "
                            "customers at the product's minimum count and confidence, rules "
                            "only: one level value, no segments, tests or recommendations",
}
# Peers of the jobs, in a fresh process on the same input (`bench/peers.py`).
JOB_PEERS = {"churn": "lifetimes", "basket": "mlxtend"}
PEER_TIMEOUT_SECONDS = 1800
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
    previous = json.loads(json.dumps(results.get(f"{scale:g}", {})))
    entry = results.setdefault(f"{scale:g}", {})
    entry.update(rows=rows, customers=customers, machine=machine(), versions=versions())
    check = None
    if engines:
        measured = []
        for fmt in formats:
            for engine in engines:
                measured.append(run_engine(engine, fmt, folder, scale))
                print(json.dumps(measured[-1]), flush=True)
        if {"product", "duckdb"} <= set(engines):
            check = verify(folder, formats[0])
            print(json.dumps({"check": check}), flush=True)
            entry["check"] = check
        kept = [r for r in entry.get("runs", []) if r["engine"] not in engines]
        entry.update(runs=kept + measured, date=dt.date.today().isoformat())
        save(results)
    if jobs:
        if not (folder / "lake-parquet" / "rfm_runs").exists():
            sys.exit("the jobs need the product's Parquet run: add product to --engines")
        entry["jobs"] = [j for j in entry.get("jobs", []) if j["job"].split()[0] not in jobs]
        for job in jobs:
            for record in run_job(job, folder):
                entry["jobs"].append(record)
                print(json.dumps(record), flush=True)
            save(results)
    for line in comparison(previous, entry):
        print(line, flush=True)
    save(results)
    print(f"wrote {REPORT.relative_to(REPO)}")
    failed = any(j["exit_code"] for j in entry.get("jobs", [])
                 if j["job"].split()[0] in jobs and "peer" not in j["job"])
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
    if engine == "floor":
        return [PYTHON, "bench/floor.py", source, str(folder), fmt]
    return [PYTHON, "bench/peers.py", engine, fmt, source, str(folder / f"{engine}-{fmt}.parquet")]


def save(results: dict) -> None:
    """docs/benchmarks.json and .md as measured so far: a bench stopped midway keeps
    what it measured."""
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    REPORT.write_text(render(results))


def job_steps(job: str, folder: Path) -> list[tuple[str, list[str] | None]]:
    """(name, argv) of each step of a job on the product's Parquet run (`--run-id bench`,
    the run's config); a step named with a leading `_` is set-up, not timed."""
    configs = ["--config", "conf/default.yaml", "--config", "bench/quartiles.yaml"]
    parquet = ["--input", str(folder / "parquet"), "--format", "parquet"]
    lake = ["--lakehouse", str(folder / "lake-parquet")]
    if job == "backfill":
        backfill_lake = folder / "lake-backfill"
        shutil.rmtree(backfill_lake, ignore_errors=True)
        return [(job, [PYTHON, "jobs/backfill.py", *configs, "--config", "bench/backfill.yaml",
                       *parquet, "--lakehouse",
                       str(backfill_lake), "--start", "2019-09-30", "--end", "2020-08-31",
                       "--every", "month"])]
    if job in ("churn", "basket"):
        return [(job, [PYTHON, f"jobs/{job}.py", *configs, *parquet, *lake, "--run-id", "bench"])]
    if job == "campaign":
        responses = folder / "responses"
        return [
            ("campaign assign", [PYTHON, "jobs/campaign.py", "assign", *lake, "--run-id",
                                 "bench", "--campaign-id", "bench", "--force"]),
            ("_responses", [PYTHON, "jobs/generate.py", "--output", str(responses), "--format",
                            "parquet", "--campaign-id", "bench", *lake, "--lift",
                            "Recent=0.05"]),
            ("campaign measure", [PYTHON, "jobs/campaign.py", "measure", *configs, "--input",
                                  str(folder / "{parquet,responses}"), "--format", "parquet",
                                  *lake, "--campaign-id", "bench"]),
        ]
    if job == "report":
        return [(job, [PYTHON, "jobs/report.py", *lake, "--run-id", "bench", "--output",
                       str(folder / "report.html")])]
    raise SystemExit(f"unknown job {job!r}; known: {', '.join(JOBS)}")


def run_job(job: str, folder: Path) -> list[dict]:
    """Each timed step of the job, then its peer's run on the same input."""
    measured = []
    for name, argv in job_steps(job, folder):
        if name == "_responses":
            shutil.rmtree(folder / "responses", ignore_errors=True)
        record = measure(argv, folder / f"job-{name.strip('_').replace(' ', '-')}.log")
        if not name.startswith("_"):
            measured.append({"job": name, "date": dt.date.today().isoformat(), **record})
        elif record["exit_code"]:
            return measured + [{"job": job, "date": dt.date.today().isoformat(), **record}]
    if job in JOB_PEERS:
        peer = JOB_PEERS[job]
        record = measure([PYTHON, "bench/peers.py", peer, "parquet", str(folder / "parquet"),
                          str(folder / f"{peer}.json")], folder / f"peer-{peer}.log",
                         timeout=PEER_TIMEOUT_SECONDS)
        measured.append({"job": f"{job} peer: {peer}", "date": dt.date.today().isoformat(),
                         **record})
    return measured


def run_engine(engine: str, fmt: str, folder: Path, scale: float) -> dict:
    record = {"engine": engine, "format": fmt}
    if engine == "pandas" and PANDAS_GIB_PER_FULL_SCALE * scale > 0.8 * machine()["memory_gib"]:
        return {**record, "skipped": f"needs about {PANDAS_GIB_PER_FULL_SCALE * scale:.0f} GiB "
                                     f"of memory; the machine has {machine()['memory_gib']}"}
    return {**record, **measure(command(engine, fmt, folder), folder / f"{engine}-{fmt}.log")}


def measure(argv: list[str], log: Path, timeout: float | None = None) -> dict:
    """Wall time and the process tree's peak resident memory of one command, and the
    stage times it logged. With `timeout`, the command is killed after that many seconds
    or when it holds 80% of the machine's memory."""
    memory_limit = 0.8 * psutil.virtual_memory().total
    started = time.perf_counter()
    with log.open("w") as out:
        process = psutil.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        peak, killed = 0, None
        while process.poll() is None:
            peak = max(peak, tree_rss(process))
            if timeout is not None and killed is None:
                if time.perf_counter() - started > timeout:
                    killed = f"did not finish in {timeout:.0f} s (killed)"
                elif peak > memory_limit:
                    killed = f"held more than {memory_limit / 2**30:.0f} GiB (killed)"
                if killed:
                    kill_tree(process)
            time.sleep(0.05)
    seconds = time.perf_counter() - started
    record = {"seconds": round(seconds, 1), "peak_gib": round(peak / 2**30, 2),
              "exit_code": process.returncode, "stages": stage_seconds(log)}
    if killed:
        record["error"] = killed
    elif process.returncode != 0:
        record["error"] = log.read_text()[-500:]
    return record


_STAGE_DONE = re.compile(r" INFO rfm_spark: (?P<stage>.+?): done in (?P<seconds>[\d.]+) s")
# Hidden so that stages keep one name from run to run (the regression guard matches names).
_PATH = re.compile(r"(?<!\S)/\S+")  # a word that starts with "/" (not BG/NBD)
_HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")  # a model's or attempt's uuid4().hex


def stage_seconds(log: Path) -> dict[str, float]:
    """The seconds of each stage the product logged (`<stage>: done in X s`), stages with
    the same name added up; a peer logs none."""
    found: dict[str, float] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = _STAGE_DONE.search(line)
        if match:
            name = _HEX_ID.sub("<id>", _PATH.sub("<path>", match["stage"]))
            found[name] = found.get(name, 0.0) + float(match["seconds"])
    return {name: round(seconds, 1) for name, seconds in found.items()}


def comparison(previous: dict, current: dict) -> list[str]:
    """`SLOWER:` lines against the previous entry of the scale, or why there are none:
    times from another machine are not compared."""
    if previous.get("machine") and previous["machine"] != current.get("machine"):
        return [f"not compared: the previous entry was measured on {previous['machine']}, "
                f"this one on {current.get('machine')}"]
    return [f"SLOWER: {line}" for line in regressions(previous, current)]


def regressions(previous: dict, current: dict, tolerance: float = 0.10) -> list[str]:
    """What got slower than in the previous entry of the same scale by more than
    `tolerance`: each product run and job, as a whole and per stage."""
    def timed(entry: dict) -> dict[str, dict]:
        found = {f"{r['engine']} {r['format']}": r for r in entry.get("runs", [])
                 if r.get("engine") == "product" and "seconds" in r}
        found.update({f"job {j['job']}": j for j in entry.get("jobs", [])})
        return found

    before, lines = timed(previous), []
    for name, now in timed(current).items():
        then = before.get(name)
        if then is None or then.get("exit_code") or now.get("exit_code"):
            continue
        pairs = [("whole", then["seconds"], now["seconds"])] + [
            (stage, then.get("stages", {})[stage], seconds)
            for stage, seconds in now.get("stages", {}).items()
            if stage in then.get("stages", {})]
        for part, old, new in pairs:
            if old >= 1.0 and new > old * (1 + tolerance):
                lines.append(f"{name}, {part}: {old} s -> {new} s (+{new / old - 1:.0%})")
    return lines


def kill_tree(process: psutil.Process) -> None:
    for member in [*process.children(recursive=True), process]:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass


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
        lines += stage_table(result.get("runs", []))
        if result.get("jobs"):
            lines += ["", "The product's other jobs on the Parquet run's lakehouse:", "",
                      "| job | what it does | wall time | peak memory | measured |",
                      "|---|---|---|---|---|"]
            for job in result["jobs"]:
                failed = f" ({failure(job['error'])})" if job.get("error") else ""
                work = JOB_WORK.get(job["job"], "")
                lines.append(f"| {job['job']} | {work} | {job['seconds']} s{failed} | "
                             f"{job['peak_gib']} GiB | {job['date']} |")
        lines.append("")
    return "\n".join(lines)


def failure(error: str) -> str:
    """A failed command's error in one table cell: its last line (a traceback's
    exception), without the table's separators."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "failed").replace("|", "/")[:160]


def stage_table(runs: list[dict]) -> list[str]:
    """The product's stages beside the floors measured in the same run, per format."""
    def stages(engine: str, fmt: str) -> dict[str, float]:
        return next((r.get("stages", {}) for r in runs
                     if r.get("engine") == engine and r.get("format") == fmt), {})
    formats = [fmt for fmt in ("parquet", "csv") if stages("product", fmt)]
    if not formats:
        return []
    by_format = {fmt: {**stages("product", fmt), **stages("floor", fmt)} for fmt in formats}
    names = list(dict.fromkeys(name for fmt in formats for name in by_format[fmt]))
    header = " | ".join({"parquet": "Parquet", "csv": "CSV"}[fmt] for fmt in formats)
    lines = ["", "The product's stages (its log), and each floor measured in the same run "
             "(`bench/floor.py`), in seconds:", "", f"| stage | {header} |",
             "|---|" + "---|" * len(formats)]
    lines += [f"| {name} | " + " | ".join(str(by_format[fmt].get(name, "")) for fmt in formats)
              + " |" for name in names]
    return lines

if __name__ == "__main__":
    sys.exit(main())
