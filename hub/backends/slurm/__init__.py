"""The ``slurm`` backend: labs and report runs as batch jobs on Austral."""
