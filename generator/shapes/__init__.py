"""Projected-thickness kernels, one shape kind per module: pure tensor functions that turn
an object's params into its field on a pixel window (`registry.SHAPES`)."""
