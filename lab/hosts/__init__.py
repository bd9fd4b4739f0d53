"""Simulated Windows hosts: state from a scenario, answering the probes of docs/probes.md."""
