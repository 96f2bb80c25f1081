"""The `radiopaque` console command; the work lives in `generator`, `trainer` and `benchmarks`."""
