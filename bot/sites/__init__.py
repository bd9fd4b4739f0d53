"""Site workers: a host's work runs on a Celery worker in the host's site, over RabbitMQ.

Why here, in ``bot/``, and not in ``handlers/``: a task body needs the worker's own
configuration (its inventory and its site's WinRM credentials) and the Celery app needs
the broker settings; both are composition-root knowledge. The task bodies only call the
handlers (``LiveCollector.collect``, ``FixRunner.run``) and hand back JSON, so
``handlers/`` stays free of Celery and runs the same in the bot and in a worker; evaluation
stays in the bot (``checks/`` runs in one place). See docs/architecture.md, "Sites".
"""
