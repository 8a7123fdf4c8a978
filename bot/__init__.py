"""The Slack app: listeners, middleware, message builders."""
