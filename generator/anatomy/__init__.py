"""Where the body, lungs and mediastinum are on each film: the placement priors' input,
estimated once per source from intensity and morphology alone."""
