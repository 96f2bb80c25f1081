"""Stage 4, output: shard formats (WebDataset tar, Parquet), the store they are written to,
the build manifest and its verification."""
