"""The library that makes and signs images: model profiles, generation, compositing, C2PA provenance and
signing keys. Running a request end to end is the application's (brandgate.requests.run)."""
