"""Detection runs: one execution of a rule over a window (Kibana's semantics), hunts over whole files, the scheduler,
and what happens to the new alerts afterwards (notifications, response actions)."""
