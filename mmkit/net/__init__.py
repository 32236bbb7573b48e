"""HTTP plumbing shared by the guarded fetch and the chat transport: a total deadline that bounds
every socket operation, and response bodies decoded under a byte cap. Knows httpx/httpcore only."""
