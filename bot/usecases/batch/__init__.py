"""Batch fixes: one request and one approval for a fix on many hosts, run canary first,
then in waves, halted on failures, paused/resumed/aborted from the card; exactly once per
host (``bot.store.batches``)."""
