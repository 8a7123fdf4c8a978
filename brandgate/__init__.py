"""brandgate: governed, signed, audited campaign images from a brief."""

__version__ = "0.1.0"
