"""Decoding options and label queries against numpy on the decoded golden vectors."""

import dataclasses
import inspect

import numpy as np
import pytest

import crackle
from crackle.codec import decompress_range, label_z_range, stream_view
from tests.conftest import load_manifest, load_vector

NONEMPTY = [c for c in load_manifest() if np.prod(c["shape"]) > 0]


def as3d(arr):
    return arr if arr.ndim == 3 else arr[:, :, np.newaxis]


@pytest.mark.parametrize("case", NONEMPTY, ids=[c["name"] for c in NONEMPTY])
def test_binary_image_and_crop(case):
    stream, arr = load_vector(case["name"])
    arr = as3d(arr)
    for value in np.unique(arr)[:6]:
        mask = crackle.decompress(stream, label=int(value))
        assert mask.dtype == bool and mask.shape == arr.shape
        np.testing.assert_array_equal(mask, arr == value)
        zs = np.flatnonzero((arr == value).any(axis=(0, 1)))
        assert label_z_range(stream, int(value)) == (zs[0], zs[-1] + 1)
        cropped = crackle.decompress(stream, label=int(value), crop=True)
        np.testing.assert_array_equal(cropped, arr[:, :, zs[0] : zs[-1] + 1] == value)
    absent = int(np.iinfo(arr.dtype).max) if np.iinfo(arr.dtype).max not in arr else 0
    if absent not in arr:
        assert not crackle.decompress(stream, label=absent).any()
        assert crackle.decompress(stream, label=absent, crop=True).shape == (0, 0, 0)


@pytest.mark.parametrize("case", NONEMPTY, ids=[c["name"] for c in NONEMPTY])
def test_z_ranges(case):
    stream, arr = load_vector(case["name"])
    arr = as3d(arr)
    sz = arr.shape[2]
    for z0, z1 in {(0, sz), (0, 1), (sz - 1, sz), (sz // 2, sz), (sz // 3, (2 * sz) // 3 + 1), (1, 1)}:
        if not 0 <= z0 <= z1 <= sz:
            continue
        part = decompress_range(stream, z0, z1, 0)
        np.testing.assert_array_equal(part, arr[:, :, z0:z1])
        assert part.flags.f_contiguous == (case["order"] != "C") or part.size <= 1
        np.testing.assert_array_equal(crackle.labels_for_z_range(stream, z0, z1), np.unique(arr[:, :, z0:z1]))


@pytest.mark.parametrize("order", ["C", "F"])
def test_z_ranges_in_either_memory_order(order, seed):
    rng = np.random.default_rng(seed)
    for dtype in (np.uint8, np.uint16, np.uint64):
        volume = rng.integers(0, 3, size=(37, 21, 70)).astype(dtype)
        stream = crackle.compress(np.asfortranarray(volume) if order == "C" else volume)  # the other order
        for z0, z1, parallel in ((0, 70, 0), (3, 68, 1), (5, 6, 1), (0, 70, 2)):
            part = decompress_range(stream, z0, z1, parallel, order=order)
            assert part.flags[f"{order}_CONTIGUOUS"]
            np.testing.assert_array_equal(part, volume[:, :, z0:z1])
    with pytest.raises(ValueError, match="order"):
        decompress_range(stream, 0, 1, order="A")


def _first_pin_and_last_component_at(section) -> tuple:
    """Byte offsets, in the pin records, of the first pin index and the last component id stored."""
    count_width, index_width, depth_width, cc_width = section.widths
    records, pos, first, last = section.records, 0, None, None
    for _ in range(section.unique.size):
        pins = int.from_bytes(records[pos : pos + count_width], "little")
        first = pos + count_width if pins and first is None else first
        pos += count_width + pins * (index_width + depth_width)
        ids = int.from_bytes(records[pos : pos + count_width], "little")
        pos += count_width + ids * cc_width
        last = pos - cc_width if ids else last
    return first, last


@pytest.mark.parametrize("name", ["pins_optimal_24x24x10", "connectomics_64x64x16_pins_markov7"])
def test_pin_records_of_a_z_range_are_the_volumes_that_touch_it(name):
    stream, _ = load_vector(name)
    view = stream_view(stream)
    section, sz = view.labels, view.header.sz
    label, index, depth, cc_label, cc_id = section.parse_records()
    top, offsets = index // section.pixels, section.component_offsets
    kept = np.zeros(2, dtype=int)
    for z0, z1 in ((0, 1), (sz // 2, sz // 2 + 1), (1, sz - 1), (sz - 1, sz)):
        crosses = (top < z1) & (top + depth >= z0)
        inside = (cc_id >= offsets[z0]) & (cc_id < offsets[z1])
        kept += crosses.sum(), inside.sum()
        expected = (label[crosses], index[crosses], depth[crosses], cc_label[inside], cc_id[inside])
        for got, want in zip(section.parse_records(z0, z1), expected):
            np.testing.assert_array_equal(got, want)
    assert (kept > 0).all()

    # Every record is checked whatever the range: a bad first pin or last component id is
    # found by a one-slice range (all-ones bytes put either out of the volume here).
    _, index_width, _, cc_width = section.widths
    assert 2 ** (8 * cc_width) - 1 >= offsets[-1]
    first_pin, last_component = _first_pin_and_last_component_at(section)
    for at, width, message in ((first_pin, index_width, "pin lies outside"),
                               (last_component, cc_width, "component id lies outside")):
        records = section.records.copy()
        records[at : at + width] = 0xFF
        damaged = dataclasses.replace(section, records=records)
        with pytest.raises(crackle.FormatError, match=message):
            damaged.parse_records(sz // 2, sz // 2 + 1)

    # A view parses a one-off range alone and keeps every record once asked again.
    view = stream_view(stream)
    view.pin_records_of(0, 1)
    assert "pin_records" not in view.__dict__
    view.pin_records_of(1, 2)
    assert "pin_records" in view.__dict__


def test_z_range_out_of_bounds_is_a_value_error():
    stream, _ = load_vector("tiny_4x4x2_F")
    for z0, z1 in ((-1, 1), (0, 3), (2, 1)):
        with pytest.raises(ValueError):
            decompress_range(stream, z0, z1, 0)


def test_contains_range_matches_numpy():
    for name in ("dtype_int64_extremes", "dtype_uint64_maxvals", "pins_fast_24x24x10", "dtype_int8_neg"):
        stream, arr = load_vector(name)
        uniq = np.unique(arr)
        info = np.iinfo(arr.dtype)
        bounds = [info.min, info.min + 1, -5, 0, 3, 7, 100, info.max, info.max + 1, 2**70]
        for low in bounds:
            for high in bounds:
                expected = uniq[(uniq >= low) & (uniq < high)] if low < high else uniq[:0]
                np.testing.assert_array_equal(crackle.contains_range(stream, low, high), expected)


def test_signed_values_keep_their_sign():
    stream, arr = load_vector("dtype_int64_extremes")
    assert crackle.min(stream) == int(arr.min()) == np.iinfo(np.int64).min
    assert crackle.max(stream) == int(arr.max()) == np.iinfo(np.int64).max
    assert crackle.labels(stream).dtype == np.int64


def test_uint64_labels_above_2_53_are_exact_in_pins_streams(reference):
    from tests.reference import reference_compress

    arr = np.zeros((12, 12, 6), dtype=np.uint64, order="F")
    arr[:, :, :] = 2**64 - 1
    arr[2:5, 3:9, 1:5] = 2**53 + 1
    arr[7:10, 1:4, :] = 2**63 + 3
    (stream,) = reference_compress([(arr, {"allow_pins": 1})])
    assert crackle.header(stream).label_format == crackle.LabelFormat.PINS_VARIABLE_WIDTH
    np.testing.assert_array_equal(crackle.labels(stream), np.unique(arr))
    assert crackle.max(stream) == 2**64 - 1
    assert crackle.contains(stream, 2**53 + 1) and not crackle.contains(stream, 2**53)
    np.testing.assert_array_equal(crackle.decompress(stream), arr)


@pytest.mark.parametrize("name", ["connectomics_64x64x16", "connectomics_64x64x16_pins_markov7",
                                  "v0_pins_fast_24x24x10", "markov5_blobs_many"])
def test_label_queries_read_only_header_and_labels(name):
    """Cut the stream right after its labels section: the label queries still answer."""
    stream, arr = load_vector(name)
    head = crackle.header(stream)
    cut = stream[: head.header_bytes + head.grid_index_bytes + head.num_label_bytes]
    uniq = np.unique(arr)
    np.testing.assert_array_equal(crackle.labels(cut), uniq)
    assert crackle.num_labels(cut) == uniq.size
    assert (crackle.min(cut), crackle.max(cut)) == (int(uniq[0]), int(uniq[-1]))
    assert crackle.contains(cut, int(uniq[len(uniq) // 2]))
    np.testing.assert_array_equal(crackle.contains_range(cut, int(uniq[1]), int(uniq[-1])), uniq[1:-1])
    with pytest.raises(crackle.FormatError):
        crackle.decompress(cut)


def test_bytes_like_inputs_are_accepted():
    stream, arr = load_vector("tiny_4x4x2_F")
    for form in (stream, bytearray(stream), memoryview(stream), np.frombuffer(stream, dtype=np.uint8)):
        np.testing.assert_array_equal(crackle.decompress(form), arr)
        np.testing.assert_array_equal(crackle.labels(form), np.unique(arr))
    with pytest.raises(TypeError):
        crackle.decompress("not a stream")


def test_parallel_must_not_be_negative():
    stream, _ = load_vector("tiny_4x4x2_F")
    with pytest.raises(ValueError):
        crackle.decompress(stream, parallel=-1)


@pytest.mark.parametrize("section, z", [("labels", None), ("slice", 1), ("slice", 9), ("index", None)])
def test_checksum_mismatch_names_the_section(section, z):
    stream, _ = load_vector("pins_fast_24x24x10")
    head = crackle.header(stream)
    damaged = bytearray(stream)
    if section == "labels":
        damaged[-4 * head.sz - 4] ^= 1
        match = "labels section crc32c"
    elif section == "index":
        damaged[head.header_bytes + 4 * head.sz] ^= 1
        match = "crack index crc32c"
    else:
        damaged[len(stream) - 4 * head.sz + 4 * z] ^= 1
        match = f"slice z={z}"
    with pytest.raises(crackle.ChecksumError, match=match):
        crackle.decompress(bytes(damaged))
    if section != "index":
        np.testing.assert_array_equal(crackle.decompress(bytes(damaged), verify=False), crackle.decompress(stream))


@pytest.mark.parametrize("sx, sy", [(0, 3), (1, 1), (1, 6), (7, 3), (64, 5), (513, 4)])
def test_slice_crc_from_runs_is_the_crc32c_of_the_ids(sx, sy, seed):
    """The run-based crc32c (carry-less products of each run's id and weights) equals google_crc32c's
    over the ids written out, for runs of every length, ids of all 32 bits, and empty rows."""
    from crackle.kernels.checksum import row_weights, slice_crc

    rng = np.random.default_rng(seed)
    weights, shift = row_weights(sx)
    ids = rng.integers(0, 2**32, size=(sy, sx), dtype=np.uint64)
    ids[:, 1:] = np.where(rng.random((sy, max(sx - 1, 0))) < 0.8, ids[:, :1], ids[:, 1:])  # runs, some long
    run_start, run_end, labels, row_first = [], [], [], [0]
    for y in range(sy):
        edges = [0] + [x for x in range(1, sx) if ids[y, x] != ids[y, x - 1]] + [sx]
        for x0, x1 in zip(edges[:-1], edges[1:]):
            if x1 > x0:
                run_start.append(x0), run_end.append(x1), labels.append(ids[y, x0])
        row_first.append(len(run_start))
    as_int64 = lambda values: np.array(values, dtype=np.uint64).astype(np.int64)  # noqa: E731
    crc = slice_crc(as_int64(run_start), as_int64(run_end), as_int64(labels), as_int64(row_first), sy, weights, shift)
    assert crc == crackle.format.crc.crc32c(ids.astype("<u4"))


def test_run_buffers_that_fill_mid_block(monkeypatch):
    """Run buffers that hold only one slice's worst case: a decode call stops before a slice whose
    runs may not fit, or after trying one that did not, and the next call starts there. Even slices
    hold few runs, odd ones one run per pixel (more than the room left after an even slice).
    Output in both orders, pins, checksums and statistics agree with the default buffers. Markov-coded
    moves are decoded ahead a slice at a time here."""
    import crackle.decoder

    x, y = np.indices((23, 17))
    arr = np.empty((23, 17, 12), dtype=np.uint32)
    for z in range(0, 12, 2):
        arr[:, :, z] = z
        arr[3 + z : 11 + z, 2:9, z] = 100 + z
        arr[:, :, z + 1] = (x + y) % 2 + 200 + z
    streams = [crackle.compress(arr), crackle.compress(arr, allow_pins=True, markov_model_order=3)]
    expected = [(crackle.voxel_counts(s), crackle.centroids(s)) for s in streams]
    calls = []
    decode_runs = crackle.decoder.decode_runs
    first = list(inspect.signature(decode_runs.py_func).parameters).index("first")

    def counted(*args):
        calls.append(args[first])
        return decode_runs(*args)

    monkeypatch.setattr(crackle.decoder, "decode_runs", counted)
    monkeypatch.setattr(crackle.decoder, "RUNS", 0)
    monkeypatch.setattr(crackle.decoder, "MOVED_CODE", 0)
    for stream, (counts, centres) in zip(streams, expected):
        for order in ("F", "C"):
            calls.clear()
            np.testing.assert_array_equal(decompress_range(stream, None, None, parallel=1, order=order), arr)
            assert calls == list(range(12))  # a call per slice
        np.testing.assert_array_equal(crackle.decompress(stream, label=102), arr == 102)
        assert crackle.voxel_counts(stream) == counts
        assert {k: tuple(v) for k, v in crackle.centroids(stream).items()} == {k: tuple(v) for k, v in centres.items()}
