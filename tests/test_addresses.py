"""The address book gives the codes a plain dict would, in far less memory."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest

from analyzer.capture.addresses import AddressBook, AddressTexts


def mapped(text: str) -> bytes:
    address = ipaddress.ip_address(text)
    if address.version == 4:
        return bytes(10) + b"\xff\xff" + address.packed
    return address.packed


def text(address: str) -> str:
    """As the reader writes it: an IPv4-mapped IPv6 address as the IPv4 address."""
    a = ipaddress.ip_address(address)
    return str(a.ipv4_mapped if a.version == 6 and a.ipv4_mapped else a)


class DictBook:
    """The reference: codes in order of a batch's sorted distinct addresses."""

    def __init__(self) -> None:
        self.codes: dict[bytes, int] = {}

    def encode(self, raw: np.ndarray) -> list[int]:
        halves = np.ascontiguousarray(raw).view(np.uint64)
        for i in np.lexsort((halves[:, 1], halves[:, 0])).tolist():
            self.codes.setdefault(raw[i].tobytes(), len(self.codes))
        return [self.codes[row.tobytes()] for row in raw]


def test_codes_and_texts_over_many_batches():
    rng = np.random.default_rng(5)
    pool = [f"10.{i % 7}.{i % 5}.{i}" for i in range(200)]
    pool += [f"2001:db8::{i:x}" for i in range(100)]
    pool += ["::ffff:0:1", "0.0.0.0", "255.255.255.255", "::", "::1", "ffff::"]
    # Enough for the book's hash table to grow a few times.
    pool += [f"172.16.{i // 256}.{i % 256}" for i in range(3000)]
    book, reference = AddressBook(), DictBook()
    for _ in range(30):
        batch = [pool[i] for i in rng.integers(0, len(pool), int(rng.integers(0, 400)))]
        raw = np.frombuffer(b"".join(mapped(t) for t in batch), np.uint8).reshape(-1, 16)
        codes = book.encode(raw)
        assert codes.tolist() == reference.encode(raw)
        assert [book.texts[c] for c in codes.tolist()] == [text(t) for t in batch]
        assert book.texts.take(codes) == [text(t) for t in batch]  # many at once
    assert len(book.texts) == len(reference.codes) == book.count
    with pytest.raises(IndexError):
        book.texts[book.count]
    with pytest.raises(IndexError):
        book.texts.take(np.array([0, book.count]))


def test_a_million_addresses_take_little_memory():
    book = AddressBook()
    rng = np.random.default_rng(1)
    first = None
    for _ in range(10):
        v4 = rng.integers(0, 1 << 32, 100_000, dtype=np.uint64).astype(">u4")
        raw = np.zeros((len(v4), 16), np.uint8)
        raw[:, 10:12] = 0xFF
        raw[:, 12:] = v4.view(np.uint8).reshape(-1, 4)
        codes = book.encode(raw)
        first = first or (raw, codes)
    # The table grew many times over: every address is still found, with its code.
    count = book.count
    assert book.encode(first[0]).tolist() == first[1].tolist()
    assert book.count == count
    held = book._raw.nbytes + book._index.nbytes
    assert book.count > 990_000
    assert held / book.count < 40  # bytes per address (a dict and texts: about 180)


@pytest.mark.parametrize(
    "many, listed", [(False, False), (False, True), (True, True)], ids=["book", "marked", "sorted"]
)
def test_a_slice_keeps_its_own_addresses(many, listed, monkeypatch):
    # A slice of segments takes only the addresses it uses, in their order:
    # marked in a table when the capture has few addresses, sorted when it has
    # many more than the slice's segments (unused ones added here); their
    # texts come from the capture's book all at once, or from a list.
    from analyzer.capture import read_capture

    seg = read_capture("captures/timewait-pileup.pcap").segments
    spare = 8 * len(seg) + 1 if many else 0
    if listed:
        seg.addresses = [*seg.addresses, *(f"198.51.100.{i % 250}" for i in range(spare))]
    part = seg.take(np.arange(len(seg)) % 3 == 1)
    with monkeypatch.context() as patch:
        if not listed:  # the book's texts are made all at once, not one by one
            patch.setattr(AddressTexts, "__getitem__", lambda *_: pytest.fail("one by one"))
        own, used = part.with_own_addresses()
    assert used.tolist() == sorted(set(part.src.tolist()) | set(part.dst.tolist()))
    assert own.addresses == [part.addresses[c] for c in used.tolist()]
    for column in ("src", "dst"):
        codes = getattr(own, column).tolist()
        assert [own.addresses[c] for c in codes] == [
            part.addresses[c] for c in getattr(part, column).tolist()
        ]
        # Codes keep their order: comparing endpoints by code compares them the same way.
        assert np.array_equal(
            np.argsort(codes, kind="stable"), np.argsort(getattr(part, column), kind="stable")
        )
