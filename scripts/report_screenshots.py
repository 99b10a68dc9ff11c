"""Screenshots of a report's sections for the README, taken in headless Chromium with the
network off (the browser tests' harness, tests/chromium.py):

    .venv/bin/python scripts/report_screenshots.py data/rfm_report_<run>.html docs \\
        segments=report_segments.png metrics=report_metrics.png

Each KEY=FILE writes section KEY (its HTML id) to FOLDER/FILE.
"""
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import chromium  # noqa: E402


def main(argv: list[str]) -> int:
    page, folder, wanted = Path(argv[0]).resolve(), Path(argv[1]), argv[2:]
    folder.mkdir(parents=True, exist_ok=True)
    reason = chromium.missing()
    if reason:
        print(reason)
        return 1
    with tempfile.TemporaryDirectory() as profile, \
            chromium.headless_chromium(Path(profile)) as driver:
        requests = chromium.open_offline(driver, page)
        errors = chromium.console_errors(driver)
        if requests or errors:
            print(f"requests {requests}, console errors {errors}")
            return 1
        for key, name in (item.split("=", 1) for item in wanted):
            path = chromium.screenshot(driver, folder / name, f"#{key}")
            print(f"{path}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
