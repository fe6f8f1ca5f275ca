"""Services the hub manages (reports, ...), each in its own package."""
