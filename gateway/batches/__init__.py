"""Batch upload: spool a file (`spool`), queue it as a job (`jobs`), read it (`readers`) and work
through it a chunk per transaction (`processing`, driven by `runner`)."""
