"""How a person's code runs: one package per backend (``local``, ``docker``, ``slurm``),
each owning its labs, dashboards and report runs and their one policy function
(``<backend>.policy.execution``); :mod:`.protocol` is what the rest of the hub knows of a
backend, :mod:`.dispatch` runs several backends in one hub."""
