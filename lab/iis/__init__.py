"""IIS-like HTTP sites for the lab: self-update paths answered from server state, W3C logs."""
