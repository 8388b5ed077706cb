"""Fault injection on real processes: scenarios that kill or starve what the gateway depends on while
declarations are being submitted, then count what was accepted, routed, lost and duplicated.

`tsw chaos` runs them on the local machine; the slow tests run the same scenarios.

How to add a scenario: `gateway.chaos.scenario` (the signature, `ChaosContext`, the rules every
scenario keeps) and `gateway.chaos.registry` (the list `tsw chaos` runs). The pieces scenarios share:
`gateway.chaos.load` (a paced keep-alive submission load that survives a dying gateway),
`gateway.chaos.ledger` (what reached the `tsw.route.*` topics: routed, lost, duplicated),
`gateway.chaos.served` (a `tsw serve` that can be SIGKILLed and restarted on its data dir) and
`gateway.chaos.report` (the figures).
"""
