"""What the bot does for a Slack user, between the handlers (Slack) and the domain."""
