"""The web page in a real browser: Debian's chromium and chromium-driver, driven
by selenium. Two people register, join a room, exchange messages, see typing,
see the read ticks turn, and share a hangout. Screenshots of the main views go
to docs/screenshots/ (with PARLEY_UPDATE_SCREENSHOTS=1)."""
import os
import time
import uuid

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

# The screenshots in docs/ are refreshed with PARLEY_UPDATE_SCREENSHOTS=1; other runs
# take them too, into a temporary folder, so a test run leaves the tree clean.
SHOTS = (os.path.join(os.path.dirname(__file__), "..", "..", "docs", "screenshots") if os.environ.get("PARLEY_UPDATE_SCREENSHOTS") == "1"
         else os.path.join("/tmp", "parley-screenshots"))


def browser(width=1280, height=820):
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}", "--lang=en-US"]:
        options.add_argument(arg)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait(driver, condition, timeout=15):
    # The page re-renders lists as events arrive: a stale element means "look again".
    try:
        return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        raise TimeoutException("condition not met within %ss; page state: %s" % (timeout, page_state(driver))) from None


def page_state(driver):
    """What the page knew when a wait ran out: connection, queued sends, acks awaited, console."""
    try:
        client = driver.execute_script(
            "const state = parley.state; return JSON.stringify({ready: state.ready, socket: state.ws && state.ws.readyState, current: state.current,"
            " pending: state.pending, awaitingAcks: [...state.acks.keys()], banner: (document.getElementById('banner') || {}).textContent})")
        return f"{client}; console: {driver.get_log('browser')[-10:]}"
    except Exception as e:  # the page itself may be gone
        return f"unavailable ({e})"


def online(driver):
    """The connection indicator says Online (read from the DOM: it is hidden on phones)."""
    return "Online" in driver.find_element(By.ID, "connection").get_attribute("textContent")


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SHOTS, name))


def register(driver, server, name):
    driver.get(server.url + "/")
    driver.find_element(By.ID, "tab-register").click()
    driver.find_element(By.ID, "auth-username").send_keys(name)
    driver.find_element(By.ID, "auth-password").send_keys("a-long-password")
    driver.find_element(By.ID, "auth-display").send_keys(name.split("_")[0].capitalize())
    driver.find_element(By.ID, "auth-submit").click()
    wait(driver, online)


def create_room(driver, name, event=False):
    driver.find_element(By.ID, "new-room").click()
    driver.find_element(By.ID, "room-name").send_keys(name)
    if event:
        driver.find_element(By.CSS_SELECTOR, "input[name=kind][value=event]").click()
    driver.find_element(By.ID, "room-create").click()
    wait(driver, EC.text_to_be_present_in_element((By.ID, "chat-title"), name))


def join_room(driver, name):
    driver.find_element(By.ID, "browse").click()
    item = wait(driver, lambda d: next((li for li in d.find_elements(By.CSS_SELECTOR, "#browse-list li") if name in li.text), None))
    item.find_element(By.TAG_NAME, "button").click()
    wait(driver, EC.text_to_be_present_in_element((By.ID, "chat-title"), name))


def send(driver, text):
    box = driver.find_element(By.ID, "composer-input")
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()


def message_with(driver, text):
    return wait(driver, lambda d: next((m for m in d.find_elements(By.CSS_SELECTOR, "#messages .message") if text in m.text), None))


def stored_message_with(driver, text):
    """The row of a message the server has stored: the page shows a send at once,
    queued, and gives its row the message's id once the ack comes."""
    return wait(driver, lambda d: next((m for m in d.find_elements(By.CSS_SELECTOR, "#messages .message")
                                        if text in m.text and m.get_attribute("data-id")), None))


def no_console_errors(driver):
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert errors == [], errors


@pytest.fixture
def two_browsers(server):
    a, b = browser(), browser()
    yield a, b
    a.quit()
    b.quit()


def test_two_people_chat(server, two_browsers):
    alice, bob = two_browsers
    suffix = uuid.uuid4().hex[:5]
    alice.get(server.url + "/")
    shot(alice, "sign-in.png")
    register(alice, server, f"alice_{suffix}")
    register(bob, server, f"bob_{suffix}")

    create_room(alice, f"Team {suffix}")
    join_room(bob, f"Team {suffix}")

    send(alice, "Hi Bob! Ready for the launch?")
    # Looked up afresh on every poll: the list re-renders as the ack arrives, and an
    # element found while the message was still queued goes stale.
    wait(alice, lambda d: message_with(d, "Ready for the launch").get_attribute("data-state") in ("sent", "delivered", "read"))
    message_with(bob, "Ready for the launch")

    # Bob has the room open and visible: the tick on Alice's side turns to read.
    wait(alice, lambda d: message_with(d, "Ready for the launch").get_attribute("data-state") == "read")

    # Typing shows on the other side.
    bob.find_element(By.ID, "composer-input").send_keys("Almost")
    wait(alice, EC.text_to_be_present_in_element((By.ID, "typing"), "is typing"))
    shot(alice, "typing.png")
    bob.find_element(By.ID, "send").click()
    message_with(alice, "Almost")
    wait(alice, lambda d: d.find_element(By.ID, "typing").text == "")

    # Participants with presence, and the room list with the latest message.
    wait(alice, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#participants li")) == 2)
    assert "Almost" in alice.find_element(By.ID, "room-list").text
    shot(alice, "chat.png")
    no_console_errors(alice)
    no_console_errors(bob)


def test_direct_conversation_and_unread(server, two_browsers):
    alice, bob = two_browsers
    suffix = uuid.uuid4().hex[:5]
    register(alice, server, f"alice_{suffix}")
    register(bob, server, f"bob_{suffix}")
    alice.find_element(By.ID, "user-search").send_keys(f"bob_{suffix}")
    person = wait(alice, lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results button"))[0]
    person.click()
    wait(alice, EC.text_to_be_present_in_element((By.ID, "chat-topic"), "first message"))
    send(alice, "Psst, a private word")
    wait(alice, lambda d: message_with(d, "private word").get_attribute("data-state") in ("sent", "delivered", "read"))
    # Bob has no room open: the conversation appears with an unread badge.
    badge = wait(bob, lambda d: d.find_elements(By.CSS_SELECTOR, "#room-list .badge"))[0]
    assert badge.text == "1"
    bob.find_element(By.CSS_SELECTOR, "#room-list button").click()
    message_with(bob, "private word")
    wait(bob, lambda d: not d.find_elements(By.CSS_SELECTOR, "#room-list .badge"))
    no_console_errors(bob)


def test_hangout_is_shared(server, two_browsers):
    alice, bob = two_browsers
    suffix = uuid.uuid4().hex[:5]
    register(alice, server, f"alice_{suffix}")
    register(bob, server, f"bob_{suffix}")
    create_room(alice, f"Launch {suffix}", event=True)
    join_room(bob, f"Launch {suffix}")
    wait(bob, EC.visibility_of_element_located((By.ID, "hangout")))
    # Bob's join is done on the server once Alice's page lists him (room:user:joined).
    wait(alice, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#participants li")) == 2)
    alice.find_element(By.CSS_SELECTOR, "#hangout-list button[data-item='5']").click()
    wait(bob, lambda d: d.find_element(By.CSS_SELECTOR, "#hangout-list button[data-item='5']").get_attribute("aria-pressed") == "true")
    bob.find_element(By.ID, "hangout-next").click()
    wait(alice, EC.text_to_be_present_in_element((By.ID, "hangout-page"), "Page 2 of 3"))
    wait(alice, lambda d: d.find_elements(By.CSS_SELECTOR, "#hangout-list button[data-item='21']"))
    shot(alice, "hangout.png")
    no_console_errors(alice)


def test_messages_queued_offline_are_sent_on_reconnect(server):
    driver = browser()
    try:
        suffix = uuid.uuid4().hex[:5]
        register(driver, server, f"carol_{suffix}")
        create_room(driver, f"Notes {suffix}")
        # Drop the socket; the page shows it and keeps what is written meanwhile.
        driver.execute_script("parley.state.ws.close()")
        wait(driver, EC.text_to_be_present_in_element((By.ID, "connection"), "Offline"))
        send(driver, "written while offline")
        queued = message_with(driver, "written while offline")
        assert queued.get_attribute("data-state") == "queued"
        assert "retrying" in driver.find_element(By.ID, "banner").text.lower()
        wait(driver, online, timeout=30)
        wait(driver, lambda d: message_with(d, "written while offline").get_attribute("data-state") == "sent")
        assert len([m for m in driver.find_elements(By.CSS_SELECTOR, "#messages .message") if "written while offline" in m.text]) == 1
    finally:
        driver.quit()


def test_phone_width_layout(server):
    driver = browser(500, 844)
    # Headless windows have a minimum width; emulate a phone's viewport instead.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        suffix = uuid.uuid4().hex[:5]
        register(driver, server, f"dave_{suffix}")
        # With no room open, the phone layout shows the room list first.
        assert driver.find_element(By.ID, "new-room").is_displayed()
        create_room(driver, f"Mobile {suffix}")
        assert not driver.find_element(By.ID, "sidebar").is_displayed()
        send(driver, "Looks right on a phone")
        message_with(driver, "on a phone")
        assert driver.find_element(By.ID, "show-rooms").is_displayed()
        assert not driver.find_element(By.ID, "participants-panel").is_displayed()
        width, viewport = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert viewport == 390 and width <= viewport, f"horizontal overflow: {width}px in {viewport}px"
        shot(driver, "phone.png")
        driver.find_element(By.ID, "show-rooms").click()
        wait(driver, EC.visibility_of_element_located((By.ID, "room-list")))
        assert f"Mobile {suffix}" in driver.find_element(By.ID, "room-list").text
    finally:
        driver.quit()


def test_accessible_markup(server):
    driver = browser()
    try:
        driver.get(server.url + "/")
        # Every form control has a label.
        unlabeled = driver.execute_script("""
            return [...document.querySelectorAll('input, select, textarea')].filter(e => e.type !== 'radio' && e.type !== 'checkbox' &&
              !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id);""")
        assert unlabeled == []
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        # Keyboard: Tab walks the sign-in form in order.
        driver.find_element(By.ID, "auth-username").click()
        order = ["auth-username"]
        for _ in range(2):
            driver.switch_to.active_element.send_keys(Keys.TAB)
            order.append(driver.switch_to.active_element.get_attribute("id"))
        assert order == ["auth-username", "auth-password", "auth-submit"]
    finally:
        driver.quit()


def test_older_history_loads_on_scroll_up(server):
    from native import Native

    driver = browser()
    try:
        suffix = uuid.uuid4().hex[:5]
        register(driver, server, f"erin_{suffix}")
        create_room(driver, f"Archive {suffix}")
        room = driver.execute_script("return parley.state.current")
        token = driver.execute_script("return parley.state.token")
        # 80 messages from another connection of the same user.
        ws = Native(server.ws_url, token)
        for i in range(1, 81):
            ws.send("message:send", {"roomId": room, "text": f"note {i}", "clientId": f"n{i}"}, str(i))
        for i in range(1, 81):
            assert ws.ack(str(i))["ok"]
        ws.close()
        # Reopen the room: the newest 50 show, the older ones load when scrolling up.
        driver.refresh()
        wait(driver, online)
        driver.find_element(By.CSS_SELECTOR, f"#room-list button[data-room='{room}']").click()
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#messages .message[data-seq='80']"))
        assert not driver.find_elements(By.CSS_SELECTOR, "#messages .message[data-seq='1']")
        assert driver.find_element(By.ID, "load-older").is_displayed()
        driver.execute_script("document.getElementById('messages').scrollTop = 0")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#messages .message[data-seq='1']"))
        assert len(driver.find_elements(By.CSS_SELECTOR, "#messages .message")) == 80
        assert not driver.find_elements(By.ID, "load-older")
    finally:
        driver.quit()
