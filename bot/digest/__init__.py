"""Scheduled digests of stalled client self-updates: what counts as stalled,
how a digest is gathered from the estate, the trend between runs, and the CSV export."""
