"""netsim.png: PNGs that Pillow and matplotlib decode to the pixels written."""

import zlib

import numpy as np
import pytest
from matplotlib import image as mpimg
from PIL import Image

from netsim.png import SIGNATURE, encode_png


@pytest.mark.parametrize("channels", [3, 4])
def test_decodes_to_the_pixels_written(tmp_path, channels):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, (37, 53, channels), dtype=np.uint8)
    pixels[10:20] = 200  # a flat band, as maps have
    path = tmp_path / "a.png"
    path.write_bytes(encode_png(pixels, dpi=150, text={"Software": "netsim"}))
    with Image.open(path) as image:
        image.load()  # checks every chunk's CRC
        assert image.mode == ("RGB" if channels == 3 else "RGBA")
        assert np.array_equal(np.asarray(image), pixels)
        assert image.info["Software"] == "netsim"
        assert image.info["dpi"] == pytest.approx((150, 150), abs=0.02)  # whole dots per metre
    assert np.array_equal(np.round(mpimg.imread(path) * 255).astype(np.uint8), pixels)


def test_strided_view_drops_alpha():
    rgba = np.arange(4 * 5 * 4, dtype=np.uint8).reshape(4, 5, 4)
    png = encode_png(rgba[..., :3], dpi=72)
    assert png.startswith(SIGNATURE)
    idat = png.index(b"IDAT")
    length = int.from_bytes(png[idat - 4:idat], "big")
    rows = np.frombuffer(zlib.decompress(png[idat + 4:idat + 4 + length]), np.uint8)
    rows = rows.reshape(4, 1 + 5 * 3)
    assert (rows[:, 0] == 0).all()  # filter type none
    assert np.array_equal(rows[:, 1:].reshape(4, 5, 3), rgba[..., :3])


def test_rejects_other_images():
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((2, 2, 3)), dpi=72)
    with pytest.raises(ValueError, match="3 or 4"):
        encode_png(np.zeros((2, 2), dtype=np.uint8), dpi=72)
