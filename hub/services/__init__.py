"""Hub-managed services (JupyterHub services started and proxied by the hub)."""
