"""Stage 2, sample specs: one sampler per foreign-body class draws size, material, pose and
position from an explicit RNG; the params it draws are what the spec stores."""
