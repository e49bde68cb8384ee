"""The compiled parts of teardown: the per-segment walks (analyzer/walk.pyx,
analyzer/zeek_session.pyx) and the result types they make
(analyzer/connection_types.pyx), the pcap reader's walk over its records
(analyzer/capture/pcap_records.pyx), its IP and TCP headers
(analyzer/capture/ip_headers.pyx, tcp_headers.pyx, sharing wire.pxd), address texts
(analyzer/capture/address_texts.pyx), a hash index of
addresses and 4-tuples (analyzer/row_index.pyx), where 4-tuple groups start
(analyzer/group_starts.pyx), segment columns gathered into the walks' rows
(analyzer/gather.pyx), the TIME_WAIT ledger's rows
(analyzer/timewait_rows.pyx), JSON text made directly (analyzer/output/json_text.pyx)
and the findings' detectors called for each connection (analyzer/findings/judging.pyx).

Everything else is in pyproject.toml; setuptools reads both.
"""

from Cython.Build import cythonize
from setuptools import setup

setup(
    ext_modules=cythonize(
        [
            "analyzer/connection_types.pyx",
            "analyzer/walk.pyx",
            "analyzer/zeek_session.pyx",
            "analyzer/timewait_rows.pyx",
            "analyzer/row_index.pyx",
            "analyzer/group_starts.pyx",
            "analyzer/gather.pyx",
            "analyzer/capture/pcap_records.pyx",
            "analyzer/capture/ip_headers.pyx",
            "analyzer/capture/tcp_headers.pyx",
            "analyzer/capture/address_texts.pyx",
            "analyzer/output/json_text.pyx",
            "analyzer/findings/judging.pyx",
        ],
        compiler_directives={"language_level": 3},
    )
)
