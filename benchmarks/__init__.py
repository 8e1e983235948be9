"""hyperdial's benchmark suite: sample efficiency, overhead, parallel throughput, multi-fidelity.

Run it with ``python -m benchmarks`` (see ``benchmarks/README.md``). The scripts beside this
package (``overhead.py``, ``parallel.py``...) are stand-alone and unaffected by it.
"""
