"""dlib's serialisation as the ONNX exporter reads it (REC-2), on hand-made bytes and on
the installed model file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lfr.vision.describers.dlib_onnx_export import (
    default_model_path,
    export_dlib_model,
    read_dlib_network,
    structure,
)
from lfr.vision.dlib_dat import ConvLayer, DatStream, DlibModelError


def _stream(data: bytes) -> DatStream:
    return DatStream(path=Path("model.dat"), data=data)


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"\x01\x00", 0),
        (b"\x01\x05", 5),
        (b"\x81\x05", -5),
        (b"\x02\x00\x01", 256),
        (b"\x02\x80\x12", 4736),
        (b"\x83\x00\x00\x01", -65536),
    ],
)
def test_integers(data: bytes, value: int) -> None:
    stream = _stream(data)
    assert stream.int_("n") == value
    assert stream.at_end()


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"\x01\x10\x81\x04", 1.0),  # 16 * 2**-4
        (b"\x01\x00\x01\x0b", 0.0),  # dlib writes zero with exponent 11
        (b"\x03\x0a\xd7\xa3\x81\x1c", 10737418 * 2.0**-28),  # the loss margin, 0.04
        (b"\x81\x03\x01\x01", -6.0),
    ],
)
def test_floats_are_mantissa_and_exponent(data: bytes, value: float) -> None:
    assert _stream(data).float_("x") == value


def test_tensor_version_2_is_shape_then_little_endian_floats() -> None:
    values = np.array([1.5, -2.0], dtype="<f4").tobytes()
    stream = _stream(b"\x01\x02" + b"\x01\x02" + b"\x01\x01" * 3 + values)
    np.testing.assert_array_equal(stream.tensor("t").reshape(-1), [1.5, -2.0])


def test_truncated_data_names_what_was_being_read_and_where() -> None:
    stream = _stream(b"\x01\x02\x01\x04\x01\x01\x01\x01\x01\x01" + b"\x00" * 7)
    with pytest.raises(DlibModelError, match=r"model.dat: file ends inside con_ params \(at byte"):
        stream.tensor("con_ params")


def test_a_byte_that_is_not_an_integer_header_is_refused() -> None:
    with pytest.raises(DlibModelError, match="not an integer"):
        _stream(b"v1").int_("version")


def test_bools_are_ascii_digits() -> None:
    stream = _stream(b"10x")
    assert stream.bool_("a") is True
    assert stream.bool_("b") is False
    with pytest.raises(DlibModelError, match="not a bool"):
        stream.bool_("c")


def test_the_installed_model_has_the_face_resnet_shape() -> None:
    """dnn_face_recognition_ex.cpp: a 7×7/2 stem, 3+4+3+3+1 residual blocks of 32, 64,
    128, 256, 256 filters (the first of each later stage down-sampling), fc 256→128."""
    network = read_dlib_network(default_model_path())
    assert network.input.rows == network.input.cols == 150
    np.testing.assert_allclose(network.input.means, (122.782, 117.001, 104.298), atol=1e-4)
    assert sum(isinstance(layer, ConvLayer) for layer in network.layers) == 29
    net = structure(network, default_model_path())
    assert net.stem[0].weights.shape == (32, 3, 7, 7)
    assert net.stem[0].stride == (2, 2)
    assert net.stem[0].padding == (0, 0)
    filters = [block.first[0].weights.shape[0] for block in net.blocks]
    assert filters == [32] * 3 + [64] * 4 + [128] * 3 + [256] * 3 + [256]
    downsampling = [i for i, block in enumerate(net.blocks) if block.skip_pool is not None]
    assert downsampling == [3, 7, 10, 13]
    assert all(net.blocks[i].first[0].stride == (2, 2) for i in downsampling)
    assert net.head.weights.shape == (256, 128)
    assert net.head.bias is None


def test_a_different_layer_sequence_is_refused(tmp_path: Path) -> None:
    """Rename one relu to add_prev: the file still parses, the structure check refuses it."""
    data = default_model_path().read_bytes()
    first_relu = data.index(b"\x01\x05relu_")
    doctored = data[:first_relu] + b"\x01\x09add_prev_" + data[first_relu + 7 :]
    path = tmp_path / "doctored.dat"
    path.write_bytes(doctored)
    network = read_dlib_network(path)
    with pytest.raises(DlibModelError, match="layer 2 is AddPrevLayer, expected ReluLayer"):
        structure(network, path)


def test_a_negative_tensor_shape_is_refused() -> None:
    stream = _stream(b"\x01\x02" + b"\x81\x02" + b"\x01\x01" * 3)
    with pytest.raises(DlibModelError, match="negative tensor shape"):
        stream.tensor("t")


def test_export_names_a_missing_source(tmp_path: Path) -> None:
    with pytest.raises(DlibModelError, match=r"absent\.dat: no such file"):
        export_dlib_model(tmp_path / "out.onnx", tmp_path / "absent.dat")
    with pytest.raises(DlibModelError, match="not a file"):
        export_dlib_model(tmp_path / "out.onnx", tmp_path)
