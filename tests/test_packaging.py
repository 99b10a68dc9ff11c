"""The wheel as a cluster installs it: its files, its entry points, beside another
pyspark that it must not touch; and the Databricks bundle's tasks call those entry points."""
import configparser
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ENTRY_POINTS = {"rfm-segment", "rfm-backfill", "rfm-migrate", "rfm-campaign", "rfm-churn",
                "rfm-basket", "rfm-simulate", "rfm-report", "rfm-generate", "rfm-codes"}
OTHER_PYSPARK = "4.1.1"  # what a Databricks runtime may hold


def run(*command, **kwargs):
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          timeout=900, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Built from a copy of what the wheel is made of, so no earlier build's files enter."""
    source, folder = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for part in ("rfm_spark", "conf"):
        shutil.copytree(REPO / part, source / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / part, source / part)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
        "-q", "--wheel-dir", folder, source)
    [built] = folder.glob("rfm_spark-*.whl")
    return built


def wheel_entry_points(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt"))
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(name).decode())
    return dict(parser["console_scripts"])


def test_the_wheel_holds_the_library_jobs_presets_and_entry_points(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert {"rfm_spark/pipeline.py", "rfm_spark/jobs/segment.py", "rfm_spark/lakehouse/protocol.py",
            "rfm_spark/config/loader.py", "rfm_spark/campaigns/stats.py",
            "rfm_spark/html_report/page.py",
            "rfm_spark/conf/default.yaml",
            "rfm_spark/conf/presets/sms27.yaml", "rfm_spark/conf/sources/hm.yaml"} <= names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    entry_points = wheel_entry_points(wheel)
    assert set(entry_points) == ENTRY_POINTS
    assert entry_points["rfm-segment"] == "rfm_spark.jobs.segment:main"
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines()
                if line.startswith("Requires-Dist: ")]
    # Runtime: only what a cluster with Spark lacks; Spark and Delta only in [local].
    assert [r for r in requires if "extra ==" not in r] == ["pyyaml>=6.0", "scipy>=1.11",
                                                            "plotly>=5.18"]
    assert any(r.startswith("pyspark==4.2.0") and 'extra == "local"' in r for r in requires)
    assert "Requires-Python: <3.14,>=3.10" in metadata


def test_the_wheel_installs_beside_another_pyspark_and_its_entry_points_run(wheel, tmp_path):
    venv = tmp_path / "runtime"
    run(sys.executable, "-m", "venv", venv)
    pip = [venv / "bin/python", "-m", "pip", "--disable-pip-version-check", "-q"]
    run(*pip, "install", f"pyspark=={OTHER_PYSPARK}")  # the runtime's Spark
    run(*pip, "install", wheel)
    installed = run(*pip[:-1], "list", "--format=freeze")
    assert f"pyspark=={OTHER_PYSPARK}" in installed.splitlines()
    assert not any(line.startswith("delta-spark") for line in installed.splitlines())
    printed = run(venv / "bin/rfm-codes", "--config", "preset:default", "--config",
                  "preset:pharmacy_rfma", cwd=tmp_path)
    assert printed.startswith("108 codes (R F M A, 1 = best)")
    for entry_point in ENTRY_POINTS:
        assert "usage: " in run(venv / "bin" / entry_point, "--help", cwd=tmp_path)


def test_every_bundle_task_calls_an_entry_point_of_the_wheel(wheel):
    bundle = yaml.safe_load((REPO / "databricks.yml").read_text())
    jobs = {}
    for pattern in bundle["include"]:
        for path in REPO.glob(pattern):
            jobs.update(yaml.safe_load(path.read_text())["resources"]["jobs"])
    assert {"rfm_segment", "rfm_backfill", "rfm_campaign_assign", "rfm_campaign_measure",
            "rfm_churn", "rfm_basket", "rfm_simulate", "rfm_report", "rfm_notebooks"} <= set(jobs)
    entry_points = wheel_entry_points(wheel)
    variables = set(bundle["variables"])
    for name, job in jobs.items():
        environments = {e["environment_key"] for e in job.get("environments", [])}
        for task in job["tasks"]:
            text = yaml.safe_dump(task)
            assert set(re.findall(r"\$\{var\.(\w+)\}", text)) <= variables, name
            if "python_wheel_task" in task:
                wheel_task = task["python_wheel_task"]
                assert wheel_task["package_name"] == "rfm_spark"
                assert wheel_task["entry_point"] in entry_points, (name, wheel_task)
                assert task["environment_key"] in environments, name
            else:
                assert (REPO / "resources" / task["notebook_task"]["notebook_path"]).resolve() \
                    .is_file(), (name, task)
