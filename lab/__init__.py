"""A simulated WSUS estate on loopback, for tests, the demo and benchmarks.

``lab.estate.Estate.start(<scenario>)`` brings up every host of a scenario
(``lab/scenarios/*.yaml``) on its own 127.0.0.x address: a WS-Management endpoint per host
(``lab.wsman``), IIS-like sites writing W3C logs per server (``lab.iis``), and host state
that answers the probes of docs/probes.md (``lab.hosts``). Time is the lab clock
(``lab.clock``), which tests advance. The lab imports nothing from ``bot``, ``handlers``
or ``checks``: it is written from docs/catalogue.md and docs/probes.md on its own.
"""
