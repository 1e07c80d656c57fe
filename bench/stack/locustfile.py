"""The realistic mix of make bench: 80% reads by id, 10% lists, 5% creates, 5% stats.

Each user sends BENCH_USER_RPS requests per second at most (an offered load, the same for
every profile, so the latencies compare), reading ids from BENCH_ID_LOW..BENCH_ID_HIGH: the
seeded rows bench/stack/bench.py made sure exist.
"""

from __future__ import annotations

import os
import random
import uuid
from itertools import count

from locust import FastHttpUser, constant_throughput, task

ID_LOW = int(os.environ.get("BENCH_ID_LOW", "1"))
ID_HIGH = int(os.environ.get("BENCH_ID_HIGH", "1000"))
USER_RPS = float(os.environ.get("BENCH_USER_RPS", "5"))
# Item names are unique: each run names its items after itself, or a later run's creates
# would collide with an earlier run's (409).
RUN = uuid.uuid4().hex[:12]
created = count(1)


class Client(FastHttpUser):
    wait_time = constant_throughput(USER_RPS)

    @task(80)
    def read_by_id(self) -> None:
        self.client.get(f"/items/{random.randint(ID_LOW, ID_HIGH)}", name="/items/{id}")

    @task(10)
    def list_items(self) -> None:
        self.client.get("/items?limit=20", name="/items?limit=20")

    @task(5)
    def create(self) -> None:
        body = {"name": f"bench-locust-{RUN}-{next(created)}", "price": "9.99", "tags": ["bench"]}
        self.client.post("/items", json=body, name="POST /items")

    @task(5)
    def stats(self) -> None:
        self.client.get("/items/stats", name="/items/stats")
