"""The tamper-evident audit log.

What is recorded, and how often
    One entry per *event that matters*, not per row, so that the log keeps up with ~1,000
    submissions/s and 10,000 e-commerce consignments/s without becoming the bottleneck:

    - submissions: one `declarations.accepted` entry per group commit of the submission writer (and
      per batch-job chunk), listing each submission's id, trader, type and digest. Under light load
      that is one entry per submission; under heavy load one per ~50: one small insert in a
      transaction that is being committed anyway;
    - a fast-path lodgement: one `lodgement.accepted` entry with its count and a digest over its
      consignments' ids and digests (the receipt's `consignments_digest`), whatever its size;
    - amendments, cancellations, batch jobs created and finished, clients added, revoked and
      rotated, signing keys rotated: one entry each, in the transaction of the change itself;
    - status changes: not one entry each (the relay, the answer service and the fast path write tens
      of thousands of `status_history` rows a second at peak) but a `status.changes` entry per
      chainer pass covering a contiguous id range of `status_history` by count and digest, so that
      `tsw audit verify` can also tell when a status history row was changed afterwards;
    - refused access (401, 403): gathered in memory for a second and written as one
      `access.refused` entry (`gateway.audit.refusals`), so that a flood of bad keys is one commit a
      second, not one per request.

    No entry ever holds a secret: no API key (nor its prefix), no document body, no `buyer_id_ref`.

Who writes the chain
    Writers (the HTTP process, the batch runner, the CLI) insert *unchained* rows (`seq` empty) in
    their own transactions, so an audited change and its audit row commit together or not at all.
    One chainer (`gateway.audit.chainer.AuditChainer`, run with the messaging workers) links them:
    each pass takes the chain lock, reads the head, gives the unchained rows the next sequence
    numbers and hashes in insertion order, adds the `status.changes` entry, and signs a checkpoint
    (compact JWS by the gateway key) every `checkpoint_every` entries or `checkpoint_every_s`.

    Why not chain at insert time: every writer would serialize on one lock, in the hot path, and on
    PostgreSQL ids committed out of order would need that lock anyway. Chaining later keeps writers
    lock-free; correctness on both databases comes from the chain lock (a transaction-scoped advisory
    lock on PostgreSQL; on SQLite the database write lock, taken by the pass's first statement so its
    snapshot cannot be stale) plus a unique `seq`: even two chainers cannot fork the chain. A row
    committed late (PostgreSQL) is simply chained by a later pass, since the chainer picks rows by
    `seq IS NULL`, not by id.

Checking it: `gateway.audit.verify.verify_audit_log`, `tsw audit verify`.
"""
