"""The command-line jobs, each a `main(argv) -> exit code` behind a console entry point
(`rfm-segment`, `rfm-backfill`, ...); `jobs/*.py` are the same for `spark-submit`."""
