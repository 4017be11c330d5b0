"""Rooms people can run, in a real browser: a private group conversation made with
its members, the members and settings dialog (roles, mute, remove), an invite link
opened by a new user, rename and archive seen live by the others, and deletion.
Screenshots go where test_web.py puts them."""
import uuid

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from test_web import browser, wait, shot, register, send, message_with, no_console_errors, online


def open_manage(driver):
    driver.find_element(By.ID, "manage-room").click()
    wait(driver, lambda d: d.find_element(By.ID, "manage-dialog").get_attribute("open") is not None)
    return wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#member-list li"))


def member_row(driver, name):
    return wait(driver, lambda d: next((li for li in d.find_elements(By.CSS_SELECTOR, "#member-list li") if name in li.text), None))


def room_button(driver, name):
    return next((b for b in driver.find_elements(By.CSS_SELECTOR, "#room-list button") if name in b.text), None)


def test_run_a_room(server):
    suffix = uuid.uuid4().hex[:5]
    alice, bob = browser(), browser()
    dave = None
    try:
        register(alice, server, f"alice_{suffix}")
        register(bob, server, f"bob_{suffix}")
        # A private group conversation, created with Bob in it: it appears on his page.
        alice.find_element(By.ID, "new-room").click()
        alice.find_element(By.ID, "room-name").send_keys("Launch crew")
        alice.find_element(By.ID, "room-members").send_keys(f"bob_{suffix}")
        alice.find_element(By.ID, "room-create").click()
        wait(alice, EC.text_to_be_present_in_element((By.ID, "chat-title"), "Launch crew"))
        wait(bob, lambda d: room_button(d, "Launch crew"))
        wait(bob, EC.text_to_be_present_in_element((By.ID, "banner"), "You were added to Launch crew"))
        room_button(bob, "Launch crew").click()
        send(alice, "Welcome aboard")
        message_with(bob, "Welcome aboard")

        # Roles: Alice makes Bob a moderator from the members dialog.
        open_manage(alice)
        row = member_row(alice, "Bob")
        assert "owner" in member_row(alice, "Alice").text
        Select(row.find_element(By.TAG_NAME, "select")).select_by_value("moderator")
        wait(alice, lambda d: member_row(d, "Bob").get_attribute("data-role") == "moderator")
        shot(alice, "members.png")

        # An invite link, opened by a new user, joins them to the private room.
        alice.find_element(By.ID, "invite-uses").find_element(By.CSS_SELECTOR, "option[value='1']").click()
        alice.find_element(By.ID, "invite-create").click()
        link = wait(alice, lambda d: d.find_element(By.ID, "invite-link").get_attribute("value"))
        assert "#invite=" in link
        shot(alice, "invite.png")
        dave = browser()
        dave.get(link)
        dave.find_element(By.ID, "tab-register").click()
        dave.find_element(By.ID, "auth-username").send_keys(f"dave_{suffix}")
        dave.find_element(By.ID, "auth-password").send_keys("a-long-password")
        dave.find_element(By.ID, "auth-submit").click()
        wait(dave, online)
        wait(dave, EC.text_to_be_present_in_element((By.ID, "chat-title"), "Launch crew"))
        # Used once: the same link is refused to anyone else.
        carol = server.register("carol")
        code = link.split("#invite=")[1]
        r = requests.post(server.url + f"/api/invites/{code}/accept", headers={"Authorization": "Bearer " + carol["token"]}, timeout=10)
        assert r.status_code == 404

        # Mute: Bob is a moderator now, so Alice demotes him first, then mutes him.
        Select(member_row(alice, "Bob").find_element(By.TAG_NAME, "select")).select_by_value("member")
        wait(alice, lambda d: member_row(d, "Bob").get_attribute("data-role") == "member")
        member_row(alice, "Bob").find_element(By.CSS_SELECTOR, "[data-action=mute]").click()
        wait(bob, EC.text_to_be_present_in_element((By.ID, "room-notice"), "You are muted"))
        assert not bob.find_element(By.ID, "composer-input").is_enabled()
        shot(bob, "muted.png")
        wait(alice, lambda d: member_row(d, "Bob").find_elements(By.CSS_SELECTOR, "[data-action=unmute]"))
        member_row(alice, "Bob").find_element(By.CSS_SELECTOR, "[data-action=unmute]").click()
        wait(bob, lambda d: d.find_element(By.ID, "composer-input").is_enabled())

        # Rename and archive: Bob's page follows.
        name = alice.find_element(By.ID, "settings-name")
        name.clear()
        name.send_keys("Launch crew (done)")
        alice.find_element(By.ID, "settings-archived").click()
        alice.find_element(By.ID, "settings-save").click()
        wait(bob, EC.text_to_be_present_in_element((By.ID, "chat-title"), "Launch crew (done)"))
        wait(bob, EC.text_to_be_present_in_element((By.ID, "room-notice"), "archived"))
        assert not bob.find_element(By.ID, "composer-input").is_enabled()
        shot(bob, "archived.png")
        alice.find_element(By.ID, "settings-archived").click()
        alice.find_element(By.ID, "settings-save").click()
        wait(bob, lambda d: d.find_element(By.ID, "composer-input").is_enabled())

        # Remove Bob with a reason: his page drops the room and says why.
        member_row(alice, "Bob").find_element(By.CSS_SELECTOR, "[data-action=remove]").click()
        prompt = wait(alice, EC.alert_is_present())
        prompt.send_keys("wrong crew")
        prompt.accept()
        wait(bob, EC.text_to_be_present_in_element((By.ID, "banner"), "You were removed from Launch crew (done): wrong crew"))
        wait(bob, lambda d: room_button(d, "Launch crew") is None)
        wait(bob, EC.text_to_be_present_in_element((By.ID, "chat-title"), "Pick a room"))
        wait(alice, lambda d: member_row(d, f"dave_{suffix}") and not any("Bob" in li.text for li in d.find_elements(By.CSS_SELECTOR, "#member-list li")))

        # Delete: Dave's page drops it too.
        alice.find_element(By.ID, "room-delete").click()
        wait(alice, EC.alert_is_present()).accept()
        wait(dave, lambda d: room_button(d, "Launch crew") is None)
        wait(alice, lambda d: room_button(d, "Launch crew") is None)
        for d in (alice, bob, dave):
            no_console_errors(d)
    finally:
        for d in (alice, bob, dave):
            if d:
                d.quit()
