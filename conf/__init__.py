"""The presets and source profiles, shipped as the package data `rfm_spark.conf`
(`--config preset:sms27`, `--config source:hm`)."""
