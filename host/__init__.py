"""Host access: Docker, cgroups, processes and block devices, each read and written here.

The contract every service shares (messages, topics, config, bus) is in shared/;
this package is how a service touches the machine. It may import shared/, never a
service; shared/ never imports it. Pure planning sits in its own module beside
the I/O (host/processes/plan.py), not inside it.
"""
