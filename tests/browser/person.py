"""How the browser tests act as a person: typing at a person's pace, and closing the toasts an earlier step left."""

KEY_MS = 150  # a person types about one key every 150 ms


def type_like_a_person(field, text: str) -> None:
    field.click()
    field.press("Control+A")
    field.press("Backspace")
    field.press_sequentially(text, delay=KEY_MS)


def dismiss_toasts(page) -> list[str]:
    """Close the toasts an earlier test left (they lie over the buttons); returns what they said, for the log."""
    said = [text[:300] for text in page.locator(".toast-body").all_inner_texts()]
    for close in page.locator(".toast-close").all():
        if close.is_visible():
            close.click()
    if said:
        print("toasts left by an earlier step:", said)
    return said
