"""C2PA content credentials: sign images with the governance verdict inside, and read them back.

This package is the only code that imports `c2pa`. Everything it hands out is a plain
dataclass, so callers never touch the SDK's native objects:

- `governance`: the governance assertion (the record carried inside the credentials);
- `signer`: the `Signer` and what it takes (ingredients, errors of set-up and of signing);
- `sidecar`: the signed asset and where its manifest store is kept beside the image;
- `verifier`: the `Verifier`, which reads and validates credentials;
- `credentials`: what the verifier answers;
- `remote`: references to manifests kept elsewhere (never fetched) or removed;
- `media`: the image type that bytes announce; `trust`: anchors and the SDK's settings.
"""
