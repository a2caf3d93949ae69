"""cgroups: where a process's cgroups are and what they hold (view), and writing them (control)."""
