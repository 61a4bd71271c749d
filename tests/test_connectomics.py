"""The shared 512^3 connectomics stream (pins, Markov 7): decode and queries agree with crackle-codec."""

import numpy as np
import pytest

import crackle
from crackle.codec import decompress_range
from tests.reference import reference_decompress, run_reference


@pytest.fixture(scope="module")
def reference_answers(connectomics_stream, reference, tmp_path_factory):
    path = tmp_path_factory.mktemp("connectomics") / "volume.ckl"
    path.write_bytes(connectomics_stream)
    code = f"""
import json, crackle
stream = open({str(path)!r}, "rb").read()
labels = crackle.labels(stream)
probe = [int(v) for v in labels[::97]]
print(json.dumps({{
    "labels": [str(int(v)) for v in labels],
    "num_labels": int(crackle.num_labels(stream)),
    "min": int(crackle.min(stream)),
    "max": int(crackle.max(stream)),
    "contains": {{str(v): bool(crackle.contains(stream, v)) for v in probe + [v + 1 for v in probe] + [0, 2**32 - 1]}},
}}))
"""
    return run_reference(code)


@pytest.fixture(scope="module")
def decoded(connectomics_stream):
    return crackle.decompress(connectomics_stream)


def test_decodes_exactly_as_crackle_codec(connectomics_stream, decoded, reference):
    (expected,) = reference_decompress([connectomics_stream])
    assert decoded.dtype == expected.dtype == np.uint32
    assert decoded.shape == expected.shape == (512, 512, 512)
    assert decoded.flags.f_contiguous
    np.testing.assert_array_equal(decoded, expected)


def test_label_queries_agree_with_crackle_codec(connectomics_stream, reference_answers):
    labels = crackle.labels(connectomics_stream)
    np.testing.assert_array_equal(labels, np.array([int(v) for v in reference_answers["labels"]], dtype=np.uint32))
    assert crackle.num_labels(connectomics_stream) == reference_answers["num_labels"] == 2524
    assert crackle.min(connectomics_stream) == reference_answers["min"]
    assert crackle.max(connectomics_stream) == reference_answers["max"]
    for value, present in reference_answers["contains"].items():
        assert crackle.contains(connectomics_stream, int(value)) == present, value


def test_queries_agree_with_the_decoded_volume(connectomics_stream, decoded):
    uniq = np.unique(decoded[:, :, ::8])
    assert set(uniq.tolist()) <= set(crackle.labels(connectomics_stream).tolist())
    np.testing.assert_array_equal(crackle.labels_for_z_range(connectomics_stream, 100, 103),
                                  np.unique(decoded[:, :, 100:103]))
    value = int(decoded[256, 256, 256])
    mask = crackle.decompress(connectomics_stream, label=value)
    np.testing.assert_array_equal(mask, decoded == value)
    view = crackle.CrackleArray(connectomics_stream)
    for z in (0, 257, 511):
        np.testing.assert_array_equal(view[:, :, z], decoded[:, :, z])
    np.testing.assert_array_equal(decompress_range(connectomics_stream, 300, 333, 1), decoded[:, :, 300:333])


@pytest.fixture(scope="module")
def reference_streams(decoded, reference, tmp_path_factory):
    """crackle-codec's flat Markov 0 / 5 and pins Markov 5 encodings of the volume."""
    folder = tmp_path_factory.mktemp("encodings")
    np.save(folder / "volume.npy", decoded)
    code = f"""
import json, numpy as np, crackle
arr = np.load({str(folder / "volume.npy")!r})
for name, kw in (("flat0", {{}}), ("flat5", {{"markov_model_order": 5}}),
                 ("pins5", {{"allow_pins": 1, "markov_model_order": 5}})):
    open({str(folder)!r} + "/" + name + ".ckl", "wb").write(crackle.compress(arr, **kw))
print(json.dumps({{}}))
"""
    run_reference(code)
    return {name: (folder / f"{name}.ckl").read_bytes() for name in ("flat0", "flat5", "pins5")}


@pytest.mark.parametrize("name, order", [("flat0", 0), ("flat5", 5)])
def test_flat_compression_is_byte_identical(decoded, reference_streams, name, order):
    assert crackle.compress(decoded, markov_model_order=order) == reference_streams[name]


def test_pins_compression_is_smaller_and_readable_by_crackle_codec(decoded, reference_streams, connectomics_stream):
    ours = crackle.compress(decoded, allow_pins=1, markov_model_order=5)
    assert crackle.header(ours).label_format == crackle.LabelFormat.PINS_VARIABLE_WIDTH
    assert len(ours) <= len(reference_streams["pins5"])
    assert len(crackle.compress(decoded, allow_pins=1, markov_model_order=7)) <= len(connectomics_stream)
    np.testing.assert_array_equal(crackle.decompress(ours), decoded)
    (theirs,) = reference_decompress([ours])
    np.testing.assert_array_equal(theirs, decoded)


def test_voxel_connectivity_graph_equals_cc3d(connectomics_stream, decoded):
    import cc3d

    np.testing.assert_array_equal(crackle.voxel_connectivity_graph(connectomics_stream, 6),
                                  cc3d.voxel_connectivity_graph(decoded, connectivity=6))
