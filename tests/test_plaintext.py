"""Markdown shown in a message box as plain paragraphs (no Tk needed)."""

from bcdesktop.gui.plaintext import markdown_to_text


def test_headings_paragraphs_bullets_code_and_links():
    md = ("# Title\n\nOne sentence that is\nwrapped over `two` lines.\n\n"
          "- first item,\n  wrapped\n- second [site](https://example.org)\n\n"
          "    a command --flag\n\nEnd **bold**.\n")
    assert markdown_to_text(md) == (
        "Title\n\nOne sentence that is wrapped over two lines.\n\n"
        "\u2022 first item, wrapped\n\u2022 second site (https://example.org)\n\n"
        "a command --flag\n\nEnd bold.")
