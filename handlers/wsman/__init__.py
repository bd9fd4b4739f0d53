"""The lean WS-Management client for NTLM hosts: byte-template envelopes, one keep-alive
connection with pyspnego's NTLM and WinRM message encryption, and the shell on top
(docs/architecture.md, "WinRM")."""
