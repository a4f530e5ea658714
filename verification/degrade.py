"""Phone-camera degradations of rendered specimen documents, for calibration and measurement.

Each function takes a PIL image and returns a new RGB image; anything random is drawn from an
explicit seed, so a given (image, parameters, seed) always gives the same pixels. They are meant
for the specimen documents of verification.specimen: calibrating the image-quality gate on
photos that should pass or fail, and measuring how an MRZ reader copes with each condition.

`DEGRADATIONS` names one realistic photo per condition: the document framed on a table
(`on_background`) and then degraded, with the strength drawn from the seed around a sensible
default; `degrade(img, name, seed)` looks a name up. `BED_DEGRADATIONS` adds, for the test bed
(bench/testbed.py), flatbed scans, 8-12 MP photos of bowed cards, photos of a screen (moire),
upside-down photos and JPEG at four more qualities; `degrade` knows those names too.
"""

import io
import math
import random
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Colour = tuple[int, int, int]
Degradation = Callable[[Image.Image, int], Image.Image]

# A dark desk: what fills the frame around a document when nothing else is given.
DARK_TABLE: Colour = (58, 46, 38)
# Table tops a document is photographed on, all darker than the pale document paper.
TABLE_COLOURS: tuple[Colour, ...] = (
    DARK_TABLE,         # walnut
    (92, 66, 44),       # oak
    (64, 66, 70),       # grey laminate
    (32, 32, 35),       # black desk
    (48, 58, 68),       # slate
    (110, 98, 84),      # beige worktop
)
MAX_ROTATION = 10.0  # degrees: a hand-held photo is rarely further off level than this
MAX_TILT = 0.4  # keystone beyond this is a photo taken nearly edge-on, not a document photo
# Bilinear: at close to 1:1 scale as sharp as bicubic to a reader, and about twice as fast.
_RESAMPLE = Image.Resampling.BILINEAR
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")


def blur(img: Image.Image, radius: float = 3.0) -> Image.Image:
    """Gaussian blur, as from hand shake or a missed autofocus."""
    # radius=3.0 px (documents render at ~250-300 dpi): MRZ strokes soften but stay legible.
    if radius < 0:
        raise ValueError(f"blur radius must be >= 0, not {radius}")
    return _rgb(img).filter(ImageFilter.GaussianBlur(radius))


def glare(img: Image.Image, strength: float = 0.9, seed: int = 0,
          spread: float | None = None) -> Image.Image:
    """A bright specular hotspot (a lamp reflected in the laminate) that saturates the print.

    `spread` fixes the hotspot's size as a fraction of the long side, near the middle of the
    picture (for calibrating a glare threshold); by default the seed draws 0.16-0.28.
    """
    # strength=0.9: a ceiling lamp on a glossy card; the core of the hotspot clips to white.
    if not 0 < strength <= 1:
        raise ValueError(f"glare strength must be in (0, 1], not {strength}")
    rng = random.Random(seed)
    image = _rgb(img)
    width, height = image.size
    if spread is None:
        cx, cy = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height
        major = rng.uniform(0.16, 0.28) * max(width, height)
        minor = major * rng.uniform(0.4, 0.75)
    else:
        cx, cy = rng.uniform(0.4, 0.6) * width, rng.uniform(0.4, 0.6) * height
        major = spread * max(width, height)
        minor = major * 0.6
    angle = rng.uniform(0, math.pi)
    dx = np.arange(width, dtype=np.float32)[None, :] - cx
    dy = np.arange(height, dtype=np.float32)[:, None] - cy
    along = dx * math.cos(angle) + dy * math.sin(angle)
    across = -dx * math.sin(angle) + dy * math.cos(angle)
    profile = np.exp(-((along / major) ** 2 + (across / minor) ** 2) * 2.0)
    # Boosted so the core is fully white: a specular reflection clips the sensor.
    alpha = np.clip(profile * strength * 1.3, 0, 1)[..., None]
    pixels = np.asarray(image, dtype=np.float32)
    out = pixels + (255 - pixels) * alpha
    return _image(out)


def rotate(img: Image.Image, degrees: float, *, table_seed: int | None = None) -> Image.Image:
    """Rotate counter-clockwise by `degrees` (at most 10 either way), expanding the canvas.

    The uncovered corners show a dark table (`DARK_TABLE`), or with `table_seed` the textured
    table `table_background` draws for that seed.
    """
    if not -MAX_ROTATION <= degrees <= MAX_ROTATION:
        raise ValueError(f"rotation must be within ±{MAX_ROTATION:g} degrees, not {degrees}")
    layer = _rgb(img).convert("RGBa").rotate(degrees, resample=_RESAMPLE, expand=True,
                                              fillcolor=(0, 0, 0, 0))
    return _onto_table(layer, table_seed)


def low_light(img: Image.Image, factor: float = 0.35, seed: int = 0,
              noise: float = 6.0) -> Image.Image:
    """Darken by `factor` and add sensor noise, as in a dim room."""
    # factor=0.35: about 1.5 stops under-exposed, an evening room lit by one lamp.
    # noise=6.0: standard deviation (of 255) of the grain a phone sensor adds at high ISO.
    if not 0 < factor <= 1:
        raise ValueError(f"low-light factor must be in (0, 1], not {factor}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, not {noise}")
    rng = np.random.default_rng(seed)
    pixels = np.asarray(_rgb(img), dtype=np.float32) * factor
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * np.float32(noise)
    return _image(pixels)


def jpeg(img: Image.Image, quality: int = 30) -> Image.Image:
    """A JPEG encode/decode round trip at `quality` (1..95)."""
    # quality=30: the heavy recompression of a messaging app or a size-capped upload form.
    if not 1 <= quality <= 95:
        raise ValueError(f"JPEG quality must be in 1..95, not {quality}")
    buffer = io.BytesIO()
    _rgb(img).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def perspective(img: Image.Image, tilt: float = 0.15, *,
                table_seed: int | None = None) -> Image.Image:
    """Keystone: the top edge shortened by `tilt` of the width (the bottom edge if negative).

    The canvas keeps its size; what the document no longer covers shows the table, as
    `rotate` does.
    """
    # tilt=0.15: the phone held leaning back ~20° from the page, so the far edge looks shorter.
    if not -MAX_TILT <= tilt <= MAX_TILT:
        raise ValueError(f"tilt must be within ±{MAX_TILT:g}, not {tilt}")
    image = _rgb(img)
    width, height = image.size
    inset, drop = abs(tilt) * width / 2, abs(tilt) * height * 0.1  # far edge: shorter, lower
    src = [(0, 0), (width, 0), (width, height), (0, height)]
    if tilt >= 0:
        dst = [(inset, drop), (width - inset, drop), (width, height), (0, height)]
    else:
        dst = [(0, 0), (width, 0), (width - inset, height - drop), (inset, height - drop)]
    layer = image.convert("RGBa").transform(
        image.size, Image.Transform.PERSPECTIVE, perspective_coefficients(dst, src),
        resample=_RESAMPLE, fillcolor=(0, 0, 0, 0))
    return _onto_table(layer, table_seed)


def perspective_coefficients(
    out_points: list[tuple[float, float]], in_points: list[tuple[float, float]]
) -> tuple[float, ...]:
    """The 8 PERSPECTIVE coefficients of Image.transform mapping out_points to in_points.

    Image.transform samples input (u, v) = ((a x + b y + c) / (g x + h y + 1),
    (d x + e y + f) / (g x + h y + 1)) for each output pixel (x, y); four point pairs fix them.
    """
    rows, rhs = [], []
    for (x, y), (u, v) in zip(out_points, in_points, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -x * u, -y * u])
        rows.append([0, 0, 0, x, y, 1, -x * v, -y * v])
        rhs.extend((u, v))
    solution = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))
    return tuple(float(c) for c in solution)


def cut_off_corner(img: Image.Image, fraction: float = 0.2, corner: str = "bottom_right", *,
                   table_seed: int | None = None) -> Image.Image:
    """Aim the frame off-centre so `corner` of the picture falls outside it.

    The frame keeps the input's size and moves by `fraction` of the width and of the height
    away from `corner`: that corner's strip of the picture is lost and the opposite side
    shows the table. On a document framed by `on_background`, the document loses its corner
    once `fraction` exceeds the margin.
    """
    # fraction=0.2: the card slid towards the edge of the viewfinder, a fifth of it cut off.
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), not {fraction}")
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {', '.join(CORNERS)}, not {corner!r}")
    image = _rgb(img)
    width, height = image.size
    dx, dy = round(fraction * width), round(fraction * height)
    offset = (dx if corner.endswith("right") else -dx, dy if corner.startswith("bottom") else -dy)
    layer = Image.new("RGBa", image.size, (0, 0, 0, 0))
    layer.paste(image.convert("RGBa"), offset)
    return _onto_table(layer, table_seed)


def on_background(img: Image.Image, margin: float = 0.08, seed: int = 0) -> Image.Image:
    """The document lying on a table, framed with a margin as a phone photo of it would be.

    `margin` is a fraction of the document's width (left, right) and height (top, bottom);
    the seed picks the table, nudges the document off-centre and drops a soft shadow.
    """
    # margin=0.08: the card fills most of the viewfinder with a little table around it.
    if not 0 <= margin <= 1:
        raise ValueError(f"margin must be in [0, 1], not {margin}")
    rng = random.Random(seed)
    image = _rgb(img)
    width, height = image.size
    mx, my = round(margin * width), round(margin * height)
    size = (width + 2 * mx, height + 2 * my)
    left = mx + round(rng.uniform(-0.4, 0.4) * mx)
    top = my + round(rng.uniform(-0.4, 0.4) * my)
    canvas = table_background(size, seed)
    # A soft shadow below and right of the card, drawn at quarter size (it is all blur).
    small = (-(-size[0] // 4), -(-size[1] // 4))
    reach = max(1, round(0.003 * max(width, height)))
    shadow = Image.new("L", small, 0)
    ImageDraw.Draw(shadow).rectangle(
        ((left // 4) + reach // 2, (top // 4) + reach, (left + width) // 4 + reach // 2,
         (top + height) // 4 + reach), fill=round(255 * 0.45))
    shadow = shadow.filter(ImageFilter.GaussianBlur(reach)).resize(size,
                                                                   Image.Resampling.BILINEAR)
    canvas = Image.composite(Image.new("RGB", size, (0, 0, 0)), canvas, shadow)
    canvas.paste(image, (left, top))
    return canvas


def table_background(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A table top: one of TABLE_COLOURS with faint wood grain, uneven light and noise."""
    rng = np.random.default_rng(seed)
    # Drawn at quarter resolution and scaled up: the texture is soft anyway, and 16x cheaper.
    width, height = -(-size[0] // 4), -(-size[1] // 4)
    base = np.array(TABLE_COLOURS[int(rng.integers(len(TABLE_COLOURS)))], dtype=np.float32)
    # Grain: random streaks along x that wander up and down a little.
    rows = rng.normal(0, 1, height + 8)
    wander = 2 * np.sin(np.arange(width) / rng.uniform(20, 50) + rng.uniform(0, 2 * np.pi))
    index = np.arange(height)[:, None] + 4 + np.rint(wander[None, :]).astype(int)
    grain = rows[index].astype(np.float32) * 4.0
    # Light: brighter towards a random side, as under a lamp or a window.
    direction = rng.uniform(0, 2 * np.pi)
    xs = (np.arange(width, dtype=np.float32) / width - 0.5) * np.cos(direction)
    ys = (np.arange(height, dtype=np.float32) / height - 0.5) * np.sin(direction)
    light = 1.0 + 0.18 * (xs[None, :] + ys[:, None])
    # Brightness noise, the same in all channels.
    shade = grain + rng.standard_normal((height, width), dtype=np.float32) * 1.5
    pixels = base * light[..., None] + shade[..., None]
    return _image(pixels).resize(size, Image.Resampling.BILINEAR)


def _clean(img: Image.Image, seed: int) -> Image.Image:
    """The document well lit and in focus, on a table."""
    return on_background(img, seed=seed)


def _blur(img: Image.Image, seed: int) -> Image.Image:
    return blur(on_background(img, seed=seed), radius=random.Random(seed).uniform(2.0, 4.0))


def _glare(img: Image.Image, seed: int) -> Image.Image:
    strength = random.Random(seed).uniform(0.75, 1.0)
    return glare(on_background(img, seed=seed), strength=strength, seed=seed)


def _rotation(img: Image.Image, seed: int) -> Image.Image:
    rng = random.Random(seed)
    degrees = rng.choice((-1, 1)) * rng.uniform(3.0, MAX_ROTATION)
    return rotate(on_background(img, seed=seed), degrees, table_seed=seed)


def _low_light(img: Image.Image, seed: int) -> Image.Image:
    factor = random.Random(seed).uniform(0.25, 0.45)
    return low_light(on_background(img, seed=seed), factor=factor, seed=seed)


def _jpeg_q30(img: Image.Image, seed: int) -> Image.Image:
    return jpeg(on_background(img, seed=seed), quality=30)


def _perspective(img: Image.Image, seed: int) -> Image.Image:
    rng = random.Random(seed)
    tilt = rng.choice((-1, 1)) * rng.uniform(0.08, 0.22)
    return perspective(on_background(img, seed=seed), tilt, table_seed=seed)


def _cut_off_corner(img: Image.Image, seed: int) -> Image.Image:
    rng = random.Random(seed)
    fraction, corner = rng.uniform(0.18, 0.3), rng.choice(CORNERS)
    return cut_off_corner(on_background(img, seed=seed), fraction, corner, table_seed=seed)


DEGRADATIONS: dict[str, Degradation] = {
    "clean": _clean,
    "blur": _blur,
    "glare": _glare,
    "rotation": _rotation,
    "low_light": _low_light,
    "jpeg_q30": _jpeg_q30,
    "perspective": _perspective,
    "cut_off_corner": _cut_off_corner,
}


# --- Scans, 8-12 MP card photos, photos of a screen (the generated test bed) -------------------

# Flatbed scans as people upload them: scanned at 150-300 dpi, then saved no wider than
# 450-800 px (the real passport scans that defeated the reader were about 600 px wide).
SCAN_DPI = (150, 300)
SCAN_WIDTH = (450, 800)
SCAN_MAX_SKEW = 2.0  # degrees: a document laid on the glass by hand, against its edge
SCANNER_GLASS: tuple[Colour, ...] = ((252, 252, 251), (238, 238, 236), (222, 223, 226))
# Phone photos of a card on a table: 8 to 12 megapixels, 4:3.
PHOTO_MEGAPIXELS = (8.0, 12.0)


def scan(img: Image.Image, *, dpi: float, width: int, source_dpi: float = 300.0,
         skew: float = 0.0, glass: Colour = SCANNER_GLASS[0], optics: float = 0.6,
         quality: int = 85, seed: int = 0) -> Image.Image:
    """A flatbed scan of the document `img` (printed at `source_dpi`): laid on the glass with a
    few millimetres of margin and `skew` degrees askew, scanned at `dpi` through slightly soft
    optics, saved at most `width` px wide as a JPEG; the result's info["dpi"] is the resolution
    the saved image has."""
    if not -SCAN_MAX_SKEW <= skew <= SCAN_MAX_SKEW:
        raise ValueError(f"scan skew must be within ±{SCAN_MAX_SKEW:g} degrees, not {skew}")
    if dpi <= 0 or width <= 0 or source_dpi <= 0:
        raise ValueError("scan dpi, width and source dpi must be positive")
    rng = random.Random(seed)
    image = _rgb(img)
    factor = dpi / source_dpi
    document = image.resize((max(1, round(image.width * factor)),
                             max(1, round(image.height * factor))), Image.Resampling.LANCZOS)
    layer = document.convert("RGBa").rotate(skew, resample=Image.Resampling.BICUBIC,
                                            expand=True, fillcolor=(0, 0, 0, 0))
    # Margins of 1-4 mm of glass on each side.
    margins = [round(rng.uniform(1, 4) * dpi / 25.4) for _ in range(4)]
    canvas = Image.new("RGB", (layer.width + margins[0] + margins[2],
                               layer.height + margins[1] + margins[3]), glass)
    rgba = layer.convert("RGBA")
    canvas.paste(rgba, (margins[0], margins[1]), rgba)
    canvas = canvas.filter(ImageFilter.GaussianBlur(optics))
    saved_dpi = dpi
    if canvas.width > width:
        saved_dpi = dpi * width / canvas.width
        canvas = canvas.resize((width, round(canvas.height * width / canvas.width)),
                               Image.Resampling.LANCZOS)
    return _jpeg(canvas, quality, dpi=saved_dpi)


def card_photo(img: Image.Image, *, megapixels: float = 12.0, coverage: float = 0.55,
               tilt: float = 0.1, side_tilt: float = 0.0, roll: float = 0.0,
               bend: float = 0.02, seed: int = 0) -> Image.Image:
    """A phone photo (4:3, `megapixels`) of the document lying on a table, seen at an angle
    and bowed like a flexed card.

    The document is `coverage` of the frame's width; `bend` (a fraction of its height) is how
    far the middle of each horizontal line bows away from its ends, with the middle magnified
    by as much (the bulge is nearer the lens); `tilt` and `side_tilt` shorten the far edge as
    `perspective` does, `roll` turns it in the frame. The whole document stays in the frame.
    """
    if not 0.1 <= coverage <= 0.95:
        raise ValueError(f"coverage must be in [0.1, 0.95], not {coverage}")
    if not -MAX_TILT <= tilt <= MAX_TILT or not -MAX_TILT <= side_tilt <= MAX_TILT:
        raise ValueError(f"tilts must be within ±{MAX_TILT:g}")
    if not -MAX_ROTATION <= roll <= MAX_ROTATION:
        raise ValueError(f"roll must be within ±{MAX_ROTATION:g} degrees, not {roll}")
    if not 0 <= bend <= 0.1:
        raise ValueError(f"bend must be in [0, 0.1], not {bend}")
    rng = np.random.default_rng(seed)
    frame_w = round(math.sqrt(megapixels * 1e6 * 4 / 3))
    frame_h = round(frame_w * 3 / 4)
    image = _rgb(img)
    doc_w = round(coverage * frame_w)
    doc_h = round(image.height * doc_w / image.width)
    document = image.resize((doc_w, doc_h), Image.Resampling.BICUBIC)
    bent = _bend(document, bend)
    # The corners of the bent document, keystoned, rolled and placed near the frame's centre.
    w, h = bent.size
    inset, side = abs(tilt) * w / 2, abs(side_tilt) * h / 2
    corners = np.array([(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)])
    if tilt >= 0:
        corners[0, 0] += inset
        corners[1, 0] -= inset
    else:
        corners[3, 0] += inset
        corners[2, 0] -= inset
    if side_tilt >= 0:
        corners[1, 1] += side
        corners[2, 1] -= side
    else:
        corners[0, 1] += side
        corners[3, 1] -= side
    corners -= (w / 2, h / 2)
    angle = math.radians(roll)
    turn = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    corners = corners @ turn.T
    # Shrink if the turned document would leave the frame (a 2% border stays clear).
    reach = np.abs(corners).max(axis=0)
    room = np.array([frame_w, frame_h]) * 0.48
    corners *= min(1.0, float((room / reach).min()))
    reach = np.abs(corners).max(axis=0)
    slack = np.maximum(room - reach, 0)
    centre = np.array([frame_w / 2, frame_h / 2]) + rng.uniform(-1, 1, 2) * slack
    corners += centre
    layer = bent.transform(
        (frame_w, frame_h), Image.Transform.PERSPECTIVE,
        perspective_coefficients([tuple(c) for c in corners],
                                 [(0, 0), (w, 0), (w, h), (0, h)]),
        resample=_RESAMPLE, fillcolor=(0, 0, 0, 0))
    photo = np.asarray(_onto_table(layer, seed))
    # Camera softness and sensor noise, then the phone's JPEG (OpenCV and in-place float32
    # arithmetic: at 12 MP, PIL's blur and float64 noise took 2 of this function's 4.7 s).
    photo = cv2.GaussianBlur(photo, (0, 0), float(rng.uniform(0.7, 1.3))).astype(np.float32)
    noise = rng.standard_normal((frame_h, frame_w), dtype=np.float32)
    noise *= np.float32(2.5)
    photo += noise[..., None]
    photo += np.float32(0.5)
    np.clip(photo, 0, 255, out=photo)
    return _jpeg(Image.fromarray(photo.astype(np.uint8), "RGB"), int(rng.integers(86, 94)))


def _bend(document: Image.Image, bend: float) -> Image.Image:
    """The document bowed about its vertical axis (premultiplied RGBa, padded to fit)."""
    w, h = document.size
    sag = bend * h
    pad = math.ceil(2 * sag) + 2
    xs = np.arange(w, dtype=np.float32)
    bulge = 1 - ((xs - w / 2) / (w / 2)) ** 2  # 0 at the ends, 1 in the middle
    magnify = 1 + bend * bulge
    ys = np.arange(h + 2 * pad, dtype=np.float32)[:, None]
    map_y = h / 2 + (ys - pad - h / 2 + sag * bulge[None, :]) / magnify[None, :]
    map_x = np.broadcast_to(xs[None, :], map_y.shape).astype(np.float32)
    rgba = np.dstack([np.asarray(document), np.full((h, w), 255, np.uint8)])
    # A constant black, transparent border: the remapped pixels come out premultiplied.
    out = cv2.remap(rgba, map_x, map_y.astype(np.float32), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    return Image.fromarray(out, "RGBa")


def screen_photo(img: Image.Image, *, screen_width: int = 900, scale: float = 0.4,
                 angle: float = 1.5, seed: int = 0) -> Image.Image:
    """A photo of a screen showing the document: the display's RGB stripes and black matrix,
    resampled by the camera at a slight angle and a scale that does not match the pixel grid,
    which aliases into moire bands and colour fringes.

    The document is shown `screen_width` display pixels wide, each pixel three sub-pixel
    columns by three rows (the last row the dark matrix); the camera sees it at `scale`
    photo pixels per sub-pixel, turned by `angle` degrees.
    """
    if not 0.2 <= scale <= 0.9:
        raise ValueError(f"scale must be in [0.2, 0.9], not {scale}")
    if not -MAX_ROTATION <= angle <= MAX_ROTATION:
        raise ValueError(f"angle must be within ±{MAX_ROTATION:g} degrees, not {angle}")
    rng = np.random.default_rng(seed)
    image = _rgb(img)
    screen_h = round(image.height * screen_width / image.width)
    shown = np.asarray(image.resize((screen_width, screen_h), Image.Resampling.LANCZOS),
                       dtype=np.float32)
    cell = np.zeros((3, 3, 3), dtype=np.float32)
    for channel in range(3):
        cell[:, channel, channel] = 1.0
    cell[2] *= 0.45  # the black matrix between rows of pixels
    # Scaled so a white pixel, averaged over its cell, is as bright as the document's white.
    cell *= 9.0 / cell[..., 0].sum() * 0.95
    sub = (shown[:, None, :, None, :] * cell[None, :, None, :, :]).reshape(
        screen_h * 3, screen_width * 3, 3)
    # The lens and the sensor's pixel area soften the grid (sigma 0.3 photo pixels) without
    # removing it: what survives aliases into moire bands and colour fringes.
    sub = cv2.GaussianBlur(sub, (0, 0), 0.3 / scale)
    out_w = round(screen_width * 3 * scale * 1.1)
    out_h = round(screen_h * 3 * scale * 1.1)
    matrix = cv2.getRotationMatrix2D((screen_width * 1.5, screen_h * 1.5), angle, scale)
    matrix[:, 2] += (out_w / 2 - screen_width * 1.5, out_h / 2 - screen_h * 1.5)
    # Bilinear without a prefilter: the camera's sampling of the sub-pixel grid aliases.
    photo = cv2.warpAffine(sub, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(18, 18, 20))
    photo *= np.array((0.96, 1.0, 1.06), dtype=np.float32)  # a screen's bluish white
    photo = cv2.GaussianBlur(photo, (0, 0), float(rng.uniform(0.4, 0.7)))
    photo += rng.normal(0.0, 3.0, photo.shape[:2] + (1,)).astype(np.float32)
    return _jpeg(_image(photo), int(rng.integers(80, 92)))


def _scan(img: Image.Image, seed: int) -> Image.Image:
    rng = random.Random(seed)
    return scan(img, dpi=rng.uniform(*SCAN_DPI), width=rng.randint(*SCAN_WIDTH),
                source_dpi=float(img.info.get("dpi", (300.0, 300.0))[0]),
                skew=rng.uniform(-SCAN_MAX_SKEW, SCAN_MAX_SKEW),
                glass=rng.choice(SCANNER_GLASS), optics=rng.uniform(0.4, 1.0),
                quality=rng.choice((60, 75, 85, 92)), seed=seed)


def _card_photo(img: Image.Image, seed: int) -> Image.Image:
    rng = random.Random(seed)
    return card_photo(img, megapixels=rng.uniform(*PHOTO_MEGAPIXELS),
                      coverage=rng.uniform(0.45, 0.7),
                      tilt=rng.choice((-1, 1)) * rng.uniform(0.03, 0.15),
                      side_tilt=rng.uniform(-0.06, 0.06), roll=rng.uniform(-8, 8),
                      bend=rng.uniform(0.01, 0.035), seed=seed)


def _screen_photo(img: Image.Image, seed: int) -> Image.Image:
    rng = random.Random(seed)
    return screen_photo(img, screen_width=rng.randint(800, 1100), scale=rng.uniform(0.30, 0.37),
                        angle=rng.uniform(-3, 3), seed=seed)


def _upside_down(img: Image.Image, seed: int) -> Image.Image:
    return on_background(img, seed=seed).transpose(Image.Transpose.ROTATE_180)


def _jpeg_at(quality: int) -> Degradation:
    def degradation(img: Image.Image, seed: int) -> Image.Image:
        return jpeg(on_background(img, seed=seed), quality=quality)
    return degradation


# The test bed's further conditions (bench/testbed.py), kept apart from DEGRADATIONS, whose
# photos the gate's calibration and older measurements are pinned to.
BED_DEGRADATIONS: dict[str, Degradation] = {
    "scan": _scan,
    "card_photo": _card_photo,
    "screen_moire": _screen_photo,
    "upside_down": _upside_down,
    "jpeg_q20": _jpeg_at(20),
    "jpeg_q40": _jpeg_at(40),
    "jpeg_q60": _jpeg_at(60),
    "jpeg_q85": _jpeg_at(85),
}


def degrade(img: Image.Image, name: str, seed: int = 0) -> Image.Image:
    """The photo `DEGRADATIONS[name]` (or `BED_DEGRADATIONS[name]`) makes of `img` for `seed`."""
    degradation = DEGRADATIONS.get(name) or BED_DEGRADATIONS.get(name)
    if degradation is None:
        known = ", ".join([*DEGRADATIONS, *BED_DEGRADATIONS])
        raise ValueError(f"unknown degradation {name!r}; known: {known}")
    return degradation(img, seed)


def _rgb(img: Image.Image) -> Image.Image:
    """`img` as RGB (a copy, so the input is never modified)."""
    return img.convert("RGB") if img.mode != "RGB" else img.copy()


def _jpeg(img: Image.Image, quality: int, *, dpi: float | None = None) -> Image.Image:
    """A JPEG round trip at `quality`, keeping `dpi` in the file (and so in info["dpi"])."""
    buffer = io.BytesIO()
    options = {"dpi": (round(dpi), round(dpi))} if dpi else {}
    img.save(buffer, "JPEG", quality=quality, **options)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        decoded.load()
        out = decoded.convert("RGB")
        out.info.update({key: decoded.info[key] for key in ("dpi",) if key in decoded.info})
        return out


def _image(pixels: np.ndarray) -> Image.Image:
    """An RGB image from float pixels, rounded and clipped to 0..255."""
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), "RGB")


def _onto_table(layer: Image.Image, table_seed: int | None) -> Image.Image:
    """Composite a premultiplied (RGBa) layer over DARK_TABLE or the table for `table_seed`."""
    if table_seed is None:
        canvas = Image.new("RGB", layer.size, DARK_TABLE)
    else:
        canvas = table_background(layer.size, table_seed)
    rgba = layer.convert("RGBA")
    canvas.paste(rgba, (0, 0), rgba)
    return canvas
