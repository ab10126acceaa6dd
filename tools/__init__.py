"""Teacher tooling run from a checkout (slides, student copies, run times); not installed with lmcourse."""
