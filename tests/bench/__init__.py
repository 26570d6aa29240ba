"""Streaming benchmarks (issue 8): ``make bench`` / ``python -m tests.bench``.

Not part of ``make test`` except ``test_bench_smoke.py`` (quick mode against
the fake upstream and the FastAPI peer; skipped without the ``bench`` extra).

Modules: ``loadgen`` (the client process), ``peer_fastapi`` (the comparison
relay), ``procs`` (server processes, CPU and memory), ``runner`` (scenarios and
figures), ``report`` (markdown + JSON under ``bench-results/``).
"""
