"""MCAP checksums: exploy bags carry chunk, data and summary CRCs (checked with the reference
``mcap`` library and plain ``zlib``), and a bag with zeroed or flipped bytes anywhere exits 2."""

from __future__ import annotations

import shutil
import struct
import zlib

import pytest
from bag_helpers import export_variant
from mcap.records import Chunk, DataEnd, Footer
from mcap.stream_reader import StreamReader

from exploy.bag import BagError
from exploy.bag.mcap_checksums import verify
from exploy.cli.main import main


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    exported = export_variant("mlp", tmp_path_factory.mktemp("mlp"))
    bag = tmp_path_factory.mktemp("bags") / "mlp"
    exported.record(bag, num_steps=6)
    return exported, bag


def _mcap(bag):
    (file,) = bag.glob("*.mcap")
    return file


def test_reference_library_validates_every_crc(recorded):
    _, bag = recorded
    with open(_mcap(bag), "rb") as handle:  # validates the chunk and data-section CRCs it reads
        list(StreamReader(handle, validate_crcs=True).records)
    with open(_mcap(bag), "rb") as handle:
        records = list(StreamReader(handle, emit_chunks=True).records)
    chunks = [r for r in records if isinstance(r, Chunk)]
    (data_end,) = [r for r in records if isinstance(r, DataEnd)]
    (footer,) = [r for r in records if isinstance(r, Footer)]
    assert chunks and all(c.uncompressed_crc == zlib.crc32(c.data) for c in chunks)
    assert data_end.data_section_crc != 0
    raw = _mcap(bag).read_bytes()
    footer_at = len(raw) - 8 - 29
    assert footer.summary_crc == zlib.crc32(raw[footer.summary_start : footer_at + 25]) != 0
    data_end_at = raw.rindex(struct.pack("<BQI", 0x0F, 4, data_end.data_section_crc), 0, footer.summary_start)
    assert data_end.data_section_crc == zlib.crc32(raw[:data_end_at])


def _damage(recorded, tmp_path, where, patch):
    _, bag = recorded
    copy = tmp_path / "bag"
    shutil.copytree(bag, copy)
    file = _mcap(copy)
    raw = bytearray(file.read_bytes())
    at = int(where * len(raw)) if isinstance(where, float) else len(raw) + where
    raw[at : at + len(patch)] = patch
    file.write_bytes(bytes(raw))
    return copy


@pytest.mark.parametrize("where", [0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95, -60])
def test_zeroed_bytes_anywhere_exit_2(recorded, tmp_path, capsys, where):
    exported, _ = recorded
    bag = _damage(recorded, tmp_path, where, bytes(16))
    code = main(["replay", str(bag), "--policy", str(exported.policy), "--quiet", "--no-plot"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("exploy replay: ")


def test_one_flipped_byte_in_a_chunk_names_the_chunk(recorded, tmp_path):
    bag = _damage(recorded, tmp_path, 0.25, b"\xa5")
    with pytest.raises(BagError, match="the checksum of the chunk at byte [0-9]+ does not match"):
        verify(bag)


def test_truncated_file_is_named_truncated(recorded, tmp_path):
    _, bag = recorded
    copy = tmp_path / "cut"
    shutil.copytree(bag, copy)
    file = _mcap(copy)
    file.write_bytes(file.read_bytes()[:-100])
    with pytest.raises(BagError, match="corrupt or truncated: it does not end with the MCAP magic"):
        verify(copy)


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "b.mcap").write_bytes(b"")
    with pytest.raises(BagError, match="it is empty"):
        verify(tmp_path / "b")
