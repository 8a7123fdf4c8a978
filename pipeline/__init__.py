"""Generation, compositing, provenance and running one job end to end."""
