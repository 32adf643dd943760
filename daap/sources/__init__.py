"""Data sources: Binance public data layout and the synthetic generator."""
