"""Guests in a real browser: a link to a live event that lets guests in, opened by
someone without an account, who joins with a name and chats; what a member has
and a guest has not (new rooms, people, files) is not offered."""
import uuid

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from test_web import browser, wait, shot, send, stored_message_with, no_console_errors, online, register


def test_join_an_event_as_a_guest(server):
    name = f"Launch {uuid.uuid4().hex[:4]}"
    owner = browser()
    guest = browser()
    try:
        # The host's page offers a guest link on an event that lets guests in.
        register(owner, server, f"host_{uuid.uuid4().hex[:6]}")
        host = {"token": owner.execute_script("return window.parley.state.token")}
        r = requests.post(server.url + "/api/rooms", json={"name": name, "kind": "event", "guestAccess": True},
                          headers={"Authorization": "Bearer " + host["token"]}, timeout=10)
        assert r.status_code == 201, r.text
        room = r.json()["room"]["id"]
        owner.get(f"{server.url}/#event={room}")
        wait(owner, EC.text_to_be_present_in_element((By.ID, "chat-title"), name))
        wait(owner, EC.element_to_be_clickable((By.ID, "guest-link"))).click()
        link = wait(owner, lambda d: d.find_element(By.ID, "banner").text if "#event=" in d.find_element(By.ID, "banner").text else None)
        assert link.endswith(f"#event={room}")

        guest.get(f"{server.url}/#event={room}")
        guest.find_element(By.ID, "guest-name").send_keys("Visitor Vi")
        guest.find_element(By.ID, "guest-submit").click()
        wait(guest, online)
        wait(guest, EC.text_to_be_present_in_element((By.ID, "chat-title"), name))
        assert "(guest)" in guest.find_element(By.ID, "me").text
        assert not guest.find_element(By.ID, "new-room").is_displayed()
        assert not guest.find_element(By.ID, "user-search").is_displayed()
        send(guest, "hello from a guest")
        # Stored, not only shown as queued, before the history is read.
        stored_message_with(guest, "hello from a guest")
        shot(guest, "guest.png")
        page = requests.get(f"{server.url}/api/messages/room/{room}", headers={"Authorization": "Bearer " + host["token"]}, timeout=10).json()
        assert [(m["senderName"], m["text"]) for m in page["messages"]] == [("Visitor Vi", "hello from a guest")]
        # Browse offers the events that let guests in, and nothing else.
        server.create_room(host["token"], "members only " + uuid.uuid4().hex[:4])
        guest.find_element(By.ID, "browse").click()
        items = wait(guest, lambda d: d.find_elements(By.CSS_SELECTOR, "#browse-list li[data-room]"))
        assert all("event" in li.text for li in items)
        no_console_errors(guest)
    finally:
        guest.quit()
        owner.quit()
