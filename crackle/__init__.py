"""Crackle: compression of 3D dense segmentations, format-compatible with crackle-codec.

The public API keeps crackle-codec's names, signatures and defaults. Every
function that takes a stream accepts a bytes-like object or a CrackleArray.
"""

from .analysis import (
    bounding_boxes,
    centroids,
    component_map,
    contacts,
    each,
    edge_labels,
    point_cloud,
    scattered_points,
    select_enclosed_points,
    signed_distance_to_boundary,
    to_parquet,
    voxel_connectivity_graph,
    voxel_counts,
)
from .array import CrackleArray
from .codec import (
    component_lengths,
    components,
    contains,
    contains_range,
    decompress,
    header,
    labels,
    labels_for_z_range,
    max,
    min,
    nbytes,
    num_labels,
)
from .connectivity import connected_components
from .encoder import compress
from .errors import ChecksumError, FormatError
from .format.header import CrackFormat, CrackleHeader, LabelFormat
from .files import aload, bload, load, save, save_numpy
from .operations import (
    add_scalar,
    array_equal,
    ascontiguousarray,
    asfortranarray,
    astype,
    floordiv_scalar,
    mask,
    mask_except,
    multiply_scalar,
    refit,
    remap,
    renumber,
    subtract_scalar,
)
from .recoding import reencode
from .stacking import full, mode_pooling_2x2x1, ones, recompress, zeros, zshatter, zsplit, zstack
from .warmup import warmup
from .writer import CrackleWriter

__version__ = "0.1.0"

__all__ = [
    "ChecksumError",
    "CrackFormat",
    "CrackleArray",
    "CrackleHeader",
    "CrackleWriter",
    "FormatError",
    "LabelFormat",
    "add_scalar",
    "aload",
    "array_equal",
    "ascontiguousarray",
    "asfortranarray",
    "astype",
    "bload",
    "bounding_boxes",
    "centroids",
    "component_lengths",
    "component_map",
    "components",
    "compress",
    "connected_components",
    "contacts",
    "contains",
    "contains_range",
    "decompress",
    "each",
    "edge_labels",
    "floordiv_scalar",
    "full",
    "header",
    "labels",
    "labels_for_z_range",
    "load",
    "mask",
    "mask_except",
    "max",
    "min",
    "mode_pooling_2x2x1",
    "multiply_scalar",
    "nbytes",
    "num_labels",
    "ones",
    "point_cloud",
    "recompress",
    "reencode",
    "refit",
    "remap",
    "renumber",
    "save",
    "save_numpy",
    "scattered_points",
    "select_enclosed_points",
    "signed_distance_to_boundary",
    "subtract_scalar",
    "to_parquet",
    "voxel_connectivity_graph",
    "voxel_counts",
    "warmup",
    "zeros",
    "zshatter",
    "zsplit",
    "zstack",
]
