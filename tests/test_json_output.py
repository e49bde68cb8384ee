"""The JSON document: its shape (validated against the shipped schema) and its vocabulary."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from analyzer import analyze
from analyzer.output.document import analysis_document
from analyzer.vocabulary import CloseKind, EventKind, FindingKind, Severity, State, TimeWaitEnd
from tests.cli import teardown

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads(resources.files("analyzer").joinpath("schema/analysis.schema.json").read_text())
CAPTURES = sorted((ROOT / "captures").glob("*.pcap")) + sorted(
    (ROOT / "tests/data/corpus/public").glob("*.pcap")
)


def test_schema_enums_are_the_vocabulary():
    defs = SCHEMA["$defs"]
    assert defs["state"]["enum"] == [s.value for s in State]
    assert defs["event"]["properties"]["kind"]["enum"] == [k.value for k in EventKind]
    conn = defs["connection"]["properties"]
    assert conn["close"]["enum"] == [k.value for k in CloseKind]
    assert conn["time_wait"]["properties"]["ended_by"]["enum"] == [
        *(e.value for e in TimeWaitEnd),
        None,
    ]
    assert defs["finding"]["properties"]["kind"]["enum"] == [k.value for k in FindingKind]
    assert defs["finding"]["properties"]["severity"]["enum"] == [s.value for s in Severity]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_document_is_valid(path):
    doc = json.loads(json.dumps(analysis_document(analyze(str(path)))))
    jsonschema.validate(doc, SCHEMA)
    assert doc["capture"]["frames"] > 0
    for conn in doc["connections"]:
        frames = [e["frame"] for e in conn["events"]]
        assert frames == sorted(frames)
        assert conn["first_frame"] <= conn["last_frame"]


def test_cli_json_matches_library():
    path = ROOT / "captures/lost-final-ack.pcap"
    run = teardown("analyze", str(path), "--format", "json")
    assert run.returncode == 0
    out = run.stdout
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    (conn,) = doc["connections"]
    assert conn["close"] == "graceful"
    assert conn["active_closer"] == "client"
    assert conn["fin_retransmissions"] == {"client": 0, "server": 1}
    assert conn["time_wait"]["side"] == "client"
    assert conn["time_wait"]["ended_by"] is None
    assert [e["kind"] for e in conn["events"]][-2:] == ["fin_retransmission", "time_wait_ack"]
    assert doc["findings"][0]["kind"] == "fin_retransmission"
    assert doc["findings"][0]["detail"]["cause"] == "lost_final_ack"


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_streamed_connection_text_is_the_encoders(path):
    # The streaming formats write each connection with connection_json, whose
    # events are filled into a template: byte for byte what json makes of
    # connection_dict.
    from analyzer.output.document import connection_dict, connection_json

    for c in analyze(str(path)).connections:
        d = connection_dict(c)
        del d["id"]
        assert connection_json(c) == json.dumps(d, separators=(",", ":"))
