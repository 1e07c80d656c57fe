"""notes: a small Starlette API over PostgreSQL, deployed by hiload's tests as 'your own app'."""
