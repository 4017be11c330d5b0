"""Messages as people use them, in a real browser: a mention highlighted, a reply
with its quote, reactions, an edit and a delete seen live by the other person, a
thread, a pin, and a search whose result opens the message in its room.
Screenshots go where test_web.py puts them."""
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from test_web import browser, wait, shot, register, create_room, join_room, send, message_with, no_console_errors


def act(driver, row, action, emoji=None):
    """Clicks a message's action (shown on hover or focus)."""
    selector = f"[data-action={action}]" + (f"[data-emoji='{emoji}']" if emoji else "")
    button = row.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script("arguments[0].click()", button)


def test_messages_as_people_use_them(server):
    suffix = uuid.uuid4().hex[:5]
    alice, bob = browser(), browser()
    try:
        register(alice, server, f"alice_{suffix}")
        register(bob, server, f"bob_{suffix}")
        create_room(alice, "Ship it")
        join_room(bob, "Ship it")
        send(alice, f"Deploy on Friday, @bob_{suffix}?")
        row = message_with(bob, "Deploy on Friday")
        assert row.find_element(By.CSS_SELECTOR, ".mention").text == f"@bob_{suffix}"
        assert "mentions-me" in row.get_attribute("class")

        # Bob replies with a quote, and reacts.
        act(bob, row, "reply")
        wait(bob, EC.text_to_be_present_in_element((By.ID, "composer-context-text"), "Replying to Alice"))
        send(bob, "Friday works")
        reply = message_with(alice, "Friday works")
        assert "Alice: Deploy on Friday" in reply.find_element(By.CSS_SELECTOR, ".quote").text
        act(bob, message_with(bob, "Deploy on Friday"), "react", "👍")
        wait(alice, lambda d: "👍 1" in message_with(d, "Deploy on Friday").text)

        # Alice edits hers; Bob sees the new text, marked edited.
        act(alice, message_with(alice, "Deploy on Friday"), "edit")
        box = alice.find_element(By.ID, "composer-input")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(f"Deploy on Friday at noon, @bob_{suffix}?")
        alice.find_element(By.ID, "send").click()
        edited = wait(bob, lambda d: next((m for m in d.find_elements(By.CSS_SELECTOR, "#messages .message") if "at noon" in m.text), None))
        assert "(edited)" in edited.text
        shot(bob, "messages.png")

        # A thread on Alice's message: Bob replies in it, Alice sees the count.
        act(bob, message_with(bob, "at noon"), "thread")
        wait(bob, lambda d: d.find_element(By.ID, "thread-dialog").get_attribute("open") is not None)
        bob.find_element(By.ID, "thread-reply").click()
        wait(bob, EC.text_to_be_present_in_element((By.ID, "composer-context-text"), "In the thread of Alice"))
        send(bob, "I'll prepare the notes")
        wait(alice, lambda d: "1 reply" in message_with(d, "at noon").text)

        # Alice pins hers and deletes Bob's reply (she owns the room).
        act(alice, message_with(alice, "at noon"), "pin")
        wait(alice, lambda d: "pinned" in message_with(d, "at noon").text)
        alice.find_element(By.ID, "show-pins").click()
        wait(alice, lambda d: any("at noon" in li.text for li in d.find_elements(By.CSS_SELECTOR, "#pins-list li")))
        alice.find_element(By.ID, "pins-close").click()
        act(alice, message_with(alice, "Friday works"), "delete")
        wait(alice, EC.alert_is_present()).accept()
        wait(bob, lambda d: any("This message was deleted." in m.text for m in d.find_elements(By.CSS_SELECTOR, "#messages .message")))

        # Search: the result opens the message in its room.
        bob.find_element(By.ID, "message-search").send_keys("noon fri", Keys.ENTER)
        result = wait(bob, lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, "#search-list button") if "at noon" in b.text), None))
        shot(bob, "search.png")
        result.click()
        wait(bob, lambda d: d.find_elements(By.CSS_SELECTOR, "#messages .message.found"))
        for d in (alice, bob):
            no_console_errors(d)
    finally:
        alice.quit()
        bob.quit()
