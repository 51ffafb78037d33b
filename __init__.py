"""ringmap: graph analytics for investigating organized sextortion rings."""

__version__ = "0.1.0"
