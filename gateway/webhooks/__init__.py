"""Trader webhooks: every status change of a client's declarations, POSTed to the URLs it registered.

- `subscriptions`: register, list, read, deactivate, and the delivery log (behind `/v1/webhooks`);
- `destinations`: which URLs are acceptable, and the SSRF guard (at registration and every attempt);
- `fanout`: one durable delivery per new `status_history` row and active subscription;
- `events`: the JSON body and its detached JWS signature headers;
- `sender`: one HTTP attempt with a deadline;
- `retries`: exponential back-off with jitter, `Retry-After`, maximum attempts and age;
- `dispatcher`: the worker that runs beside the outbox relay and ties these together.
"""
