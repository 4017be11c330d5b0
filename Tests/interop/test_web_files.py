"""Files in a real browser: attached by the button and by drag and drop, uploaded with
a progress bar, an image shown inline at its size to the other person, a document as
a named link with its size that downloads the same bytes, and a refused upload that
says why and can be retried or removed. Screenshots go where test_web.py puts them."""
import base64
import hashlib
import os
import struct
import tempfile
import uuid
import zlib

from selenium.webdriver.common.by import By

from test_web import browser, wait, shot, register, create_room, join_room, send, message_with


def png(width, height):
    """A real PNG of width × height: a blue-to-green gradient."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes([40, (y * 255) // height, 200]) * width for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def tray(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#attachment-tray .tray-item")


def drop(driver, name, data, mime):
    """Drops a file on the conversation, as a drag from the desktop does."""
    driver.execute_script(
        "const bytes = Uint8Array.from(atob(arguments[1]), c => c.charCodeAt(0));"
        "const dt = new DataTransfer(); dt.items.add(new File([bytes], arguments[0], {type: arguments[2]}));"
        "const zone = document.getElementById('chat');"
        "zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));"
        "zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
        name, base64.b64encode(data).decode(), mime)


def console_errors(driver):
    # The refused upload's 400 is logged by the browser itself; it is the point of that step.
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]
            and not ("/api/uploads" in e["message"] and "400" in e["message"])]


def test_files_in_a_conversation(server):
    suffix = uuid.uuid4().hex[:5]
    alice, bob = browser(), browser()
    folder = tempfile.mkdtemp()
    try:
        register(alice, server, f"alice_{suffix}")
        register(bob, server, f"bob_{suffix}")
        create_room(alice, "Design review")
        join_room(bob, "Design review")

        # Alice attaches an image with the button: a progress bar, then ready.
        image = os.path.join(folder, "mockup.png")
        with open(image, "wb") as f:
            f.write(png(320, 180))
        alice.find_element(By.ID, "attach-input").send_keys(image)
        wait(alice, lambda d: [t.get_attribute("data-status") for t in tray(d)] == ["done"])
        # And a document by drag and drop.
        notes = b"Review notes\n- spacing\n- colours\n" * 50
        drop(alice, "notes.txt", notes, "text/plain")
        wait(alice, lambda d: [t.get_attribute("data-status") for t in tray(d)] == ["done", "done"])
        send(alice, "The new mockup")
        wait(alice, lambda d: not tray(d))

        # Bob sees the image inline at its size, and the document as a link with its size.
        row = message_with(bob, "The new mockup")
        img = wait(bob, lambda d: next((i for i in row.find_elements(By.CSS_SELECTOR, "img.attachment-image")
                                        if d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)), None))
        assert (img.get_attribute("width"), img.get_attribute("height")) == ("320", "180")
        assert bob.execute_script("return arguments[0].naturalWidth", img) == 320
        link = row.find_element(By.CSS_SELECTOR, "a.attachment-file")
        assert "notes.txt" in link.text and "KB" in link.text
        shot(bob, "files.png")
        # The link downloads exactly the bytes Alice sent (read as the page reads them).
        upload_id = link.get_attribute("data-upload")
        digest = bob.execute_async_script(
            "const done = arguments[arguments.length - 1]; (async () => {"
            "const r = await fetch('/api/uploads/' + arguments[0], {headers: {Authorization: 'Bearer ' + parley.state.token}});"
            "const b = await r.arrayBuffer(); const h = await crypto.subtle.digest('SHA-256', b);"
            "done([r.status, r.headers.get('Content-Disposition'), [...new Uint8Array(h)].map(x => x.toString(16).padStart(2, '0')).join('')]);"
            "})();",
            upload_id)
        assert digest[0] == 200 and digest[1].startswith("attachment;") and digest[2] == hashlib.sha256(notes).hexdigest()
        # The room list previews the message.
        wait(bob, lambda d: "The new mockup" in d.find_element(By.ID, "room-list").text)

        # A ZIP named .png is refused with the reason; it can be retried, then removed.
        fake = os.path.join(folder, "photo.png")
        with open(fake, "wb") as f:
            f.write(b"PK\x03\x04" + b"\x00" * 200)
        bob.find_element(By.ID, "attach-input").send_keys(fake)
        failed = wait(bob, lambda d: next((t for t in tray(d) if t.get_attribute("data-status") == "failed"), None))
        assert "application/zip" in failed.find_element(By.CSS_SELECTOR, ".tray-error").text
        shot(bob, "upload-refused.png")
        failed.find_element(By.CSS_SELECTOR, "[data-action=retry]").click()
        failed = wait(bob, lambda d: next((t for t in tray(d) if t.get_attribute("data-status") == "failed"), None))
        failed.find_element(By.CSS_SELECTOR, "[data-action=remove]").click()
        wait(bob, lambda d: not tray(d))
        # A file alone, without text, is a message too.
        drop(bob, "answer.png", png(40, 30), "image/png")
        wait(bob, lambda d: [t.get_attribute("data-status") for t in tray(d)] == ["done"])
        bob.find_element(By.ID, "send").click()
        wait(alice, lambda d: any(i.get_attribute("width") == "40" for i in d.find_elements(By.CSS_SELECTOR, "#messages img.attachment-image")))
        for d in (alice, bob):
            assert console_errors(d) == []
    finally:
        alice.quit()
        bob.quit()
