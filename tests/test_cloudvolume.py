"""cloud-volume, a client of crackle-codec, running on this package: a local layer with Crackle chunks.

cloud-volume is installed without its ``seg_codecs`` extra, so the ``crackle`` it imports is ours.
Every operation that reaches its Crackle code paths is exercised: upload (compress), download and
cutouts (decompress), ``label=`` (decompress with a label, contains), unique labels, single voxels
(CrackleArray indexing), remap of chunk files, and ``download(..., crackle=True)`` (compress of its
(x, y, z, 1) cutouts, remap, zstack).
"""

import numpy as np
import pytest

import crackle
from tests.children import ROOT
from tests.segmentations import blocky

SHAPE = (70, 50, 37)  # not a multiple of the chunk size
CHUNK = (32, 32, 16)
OFFSET = (3, 5, 7)


@pytest.fixture(params=[np.uint8, np.uint32, np.uint64])
def layer(request, tmp_path, seed):
    from cloudvolume import CloudVolume

    assert crackle.__file__.startswith(str(ROOT))  # ours, not crackle-codec
    rng = np.random.default_rng(seed)
    arr = blocky(rng, SHAPE, request.param, nlabels=9, boxes=20)
    info = CloudVolume.create_new_info(
        num_channels=1, layer_type="segmentation", data_type=np.dtype(request.param).name, encoding="crackle",
        resolution=[4, 4, 40], voxel_offset=list(OFFSET), chunk_size=list(CHUNK), volume_size=list(SHAPE))
    vol = CloudVolume(f"file://{tmp_path}/layer", info=info, progress=False, parallel=1)
    vol.commit_info()
    vol[:, :, :] = arr
    return vol, arr


def test_cloudvolume_reads_and_writes_with_our_crackle(layer):
    from cloudvolume import Bbox

    vol, arr = layer
    whole = vol[:, :, :]
    assert whole.shape == SHAPE + (1,)
    np.testing.assert_array_equal(whole[..., 0], arr)
    x0, y0, z0 = OFFSET
    np.testing.assert_array_equal(vol[x0 + 10 : x0 + 45, y0 + 3 : y0 + 40, z0 + 15 : z0 + 33][..., 0],
                                  arr[10:45, 3:40, 15:33])
    label = int(arr[40, 20, 20])
    mask = vol.download(Bbox(OFFSET, np.add(OFFSET, SHAPE)), label=label)
    np.testing.assert_array_equal(np.asarray(mask)[..., 0], arr == label)
    assert vol.unique(Bbox(OFFSET, np.add(OFFSET, SHAPE))) == set(np.unique(arr).tolist())
    points = [(x0 + 1, y0 + 2, z0 + 3), (x0 + 69, y0 + 49, z0 + 36)]
    voxels = vol.image.download_points(points, 0)
    assert [int(np.asarray(voxels[p]).ravel()[0]) for p in points] == [int(arr[1, 2, 3]), int(arr[69, 49, 36])]


def test_cloudvolume_crackle_downloads(layer):
    from cloudvolume import Bbox

    vol, arr = layer
    box = Bbox(OFFSET, np.add(OFFSET, SHAPE))
    for parallel in (1, 2):  # 1: compress, remap (renumbered cutouts); 2: compress only; both zstack
        vol.parallel = parallel
        packed = vol.download(box, crackle=True, parallel=parallel)
        assert isinstance(packed, crackle.CrackleArray)
        np.testing.assert_array_equal(packed.numpy(), arr)


def test_cloudvolume_chunk_remap_and_labels(layer):
    from cloudvolume import chunks

    vol, arr = layer
    first = next(iter(vol.image.download_files(vol.bounds, 0).items()))
    binary = first[1]
    present = crackle.labels(binary).tolist()
    assert sorted(chunks.labels(binary, encoding="crackle")) == present
    mapping = {present[0]: 123}
    remapped = chunks.remap(binary, "crackle", mapping, preserve_missing_labels=True)
    before, after = crackle.decompress(binary), crackle.decompress(remapped)
    np.testing.assert_array_equal(after, np.where(before == present[0], 123, before))
