"""Bare processes: finding them (view), their I/O priority (ioprio), what each group should
be (plan, pure), changing them (control) and putting them back (restore)."""
