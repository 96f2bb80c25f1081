"""Stage 5, execution: a build drives shards through an executor (local or Ray), each
process holding one long-lived shard worker."""
