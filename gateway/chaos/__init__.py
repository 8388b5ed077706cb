"""Fault injection on real processes: scenarios that kill or starve what the gateway depends on while
declarations are being submitted, then count what was accepted, routed, lost and duplicated.

`tsw chaos` runs them on the local machine; the slow tests run the same scenarios.
"""
