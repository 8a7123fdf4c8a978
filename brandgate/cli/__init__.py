"""The `brandgate` command line: JSON on stdout with --json, logs on stderr."""
