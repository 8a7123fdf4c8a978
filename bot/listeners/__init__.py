"""Bolt listeners by kind of Slack request, each module with `register(app, runtime)`."""
