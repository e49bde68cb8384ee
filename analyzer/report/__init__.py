"""The batch report over many captures (``teardown report``, ``analyzer.batch.report``).

- ``worker``: the analysis of one capture, as it runs in a worker process;
- ``schedulers``: the local process pool and the Dask runner;
- ``progress``: the progress bar and log lines;
- ``tables``: connections.csv, findings.jsonl, errors.json, summary.json;
- ``html``: index.html.

The walk, the resume logic and atomic writes are in ``analyzer.batch``.
"""
