"""What the bot does for a user (check, fix approvals, digests), between the Slack
listeners (``bot/slack``) and the remote check handlers (``handlers``). Use cases talk to
Slack only through the chat port (``bot/chat.py``) in view models (``bot/views.py``)."""
