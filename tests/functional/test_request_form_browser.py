"""The request form in a real phone-sized Chromium: photos kept across a validation error on
the file path, and the camera path (a fake camera showing an ID card) with the pre-send
verdict."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import document_photo, selfie_photo
from tests.functional.browser import BROWSER, CHROMIUM_ARGS, choose_photo, snap

pytestmark = BROWSER

FORM_CONFIG = {"WTF_CSRF_ENABLED": True, "QUALITY_GATE": True}
# The fake camera's picture size (even sides: 4:2:0 halves them).
CAMERA = (1280, 720)


def y4m(image: Image.Image, path: Path) -> Path:
    """``image`` as a one-frame YUV4MPEG2 video (4:2:0, BT.601), which Chromium's fake
    camera plays in a loop. Studio range (Y 16-235): Chromium reads the frames as video does,
    and full-range values would come out with the whites clipped (a glare to the gate)."""
    width, height = CAMERA
    frame = Image.new("RGB", CAMERA, (30, 30, 30))
    image = image.copy()
    image.thumbnail(CAMERA)
    frame.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    rgb = np.asarray(frame, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + 219 / 255 * (0.299 * r + 0.587 * g + 0.114 * b)
    u = 128 + 224 / 255 * (-0.168736 * r - 0.331264 * g + 0.5 * b)
    v = 128 + 224 / 255 * (0.5 * r - 0.418688 * g - 0.081312 * b)

    def half(plane):
        return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = [np.clip(p, 0, 255).round().astype(np.uint8) for p in (y, half(u), half(v))]
    header = f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + b"".join(p.tobytes() for p in planes))
    return path


@pytest.fixture
def browser_args(tmp_path_factory):
    """Chromium with a fake camera that films a specimen ID card lying on a table."""
    card = Image.open(io.BytesIO(document_photo(kind="id_card"))).convert("RGB")
    video = y4m(card, tmp_path_factory.mktemp("camera") / "id-card.y4m")
    return [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={video}"]


@pytest.mark.parametrize("app_config", [FORM_CONFIG])
def test_photos_are_kept_after_a_validation_error(app, page, live_server, tmp_path):
    id_photo, selfie = tmp_path / "id.jpg", tmp_path / "selfie.jpg"
    id_photo.write_bytes(document_photo(kind="id_card"))
    selfie.write_bytes(selfie_photo())

    page.goto(f"{live_server}/recover")
    page.fill("#email", "anna@example.test")
    page.fill("#full_name", "Anna Eriksson")
    page.fill("#date_of_birth", "12/08/1974")  # not the format asked for
    page.select_option("#issue_type", "forgot_password")
    choose_photo(page, "id_document", id_photo)
    choose_photo(page, "selfie", selfie)
    page.check("#consent")
    page.click("button.wide[type=submit]")

    page.wait_for_selector("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.get_attribute("#date_of_birth", "aria-invalid") == "true"
    assert "YYYY-MM-DD" in page.text_content("#date_of_birth-errors")
    assert "Photo kept: id.jpg" in page.text_content("#id_document-hint")
    assert "Photo kept: selfie.jpg" in page.text_content("#selfie-hint")
    box = page.locator("#consent").bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    snap(page, "phone-form-error")

    # The link of the summary takes the person to the field; no photo is chosen again.
    page.click("#error-summary a[href='#date_of_birth']")
    page.fill("#date_of_birth", "1974-08-12")
    page.click("button.wide[type=submit]")
    assert page.text_content("#tracking-link").strip().startswith(f"{live_server}/status/")


@pytest.mark.parametrize("app_config", [FORM_CONFIG])
def test_the_camera_takes_the_id_and_the_desk_judges_it_before_sending(app, page, live_server,
                                                                         tmp_path):
    page.goto(f"{live_server}/recover")
    field = page.locator(".photo-field[data-kind=id_document]")
    field.get_by_role("button", name="Use the camera").click()
    take = field.get_by_role("button", name="Take photo")
    take.wait_for()
    assert field.locator(".camera-guide.card").is_visible()
    page.wait_for_function(
        "document.querySelector('.photo-field[data-kind=id_document] video').videoWidth > 0")
    snap(page, "phone-form-camera")
    take.click()
    field.get_by_role("button", name="Use this photo").click()

    assert page.evaluate("document.getElementById('id_document').files.length") == 1
    verdict = page.locator("#id_document-verdict[data-result]")
    verdict.wait_for()
    assert verdict.get_attribute("data-result") == "ok", verdict.text_content()
    assert "clear enough to read" in verdict.text_content()
    assert page.locator(".camera").first.is_hidden()

    # The captured photo is kept: a form sent without it says so and does not ask again.
    page.click("button.wide[type=submit]")
    page.wait_for_selector("#error-summary")
    assert "Photo kept: id_document.jpg" in page.text_content("#id_document-hint")
    assert page.locator("#id_document-errors").count() == 0
