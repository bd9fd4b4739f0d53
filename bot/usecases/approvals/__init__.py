"""Fixes through chat: request -> approval by a second person -> run once -> re-check ->
follow-up. One module per step; the state machine is ``bot.store.approvals``."""
