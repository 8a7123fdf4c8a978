"""Policy checks: pure functions of image + brief + kit, each with a stable ID."""
