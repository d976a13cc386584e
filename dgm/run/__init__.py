"""A run: its settings (`config`), its folder (`rundir`), the scheduler that grows the
archive (`scheduler`), the work it hands to executors (`jobs`), provider outages (`outage`)
and its life cycle: start, resume, final evaluation, summary (`lifecycle`)."""
