"""The Patient tab, driven through its real widgets: typing, buttons, Enter."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bcdesktop import DISCLAIMER
from bcdesktop.schema import FEATURES

pytestmark = pytest.mark.gui


@pytest.fixture
def tab(app, root, trained_bundle):
    app.set_model(trained_bundle, source="test")
    app.select_tab("patient")
    root.update()
    return app.tabs["patient"]


@pytest.fixture(scope="module")
def borderline(bundled, trained_bundle):
    """A real row whose probability is nearest 0.5, so its percentage has no "<0.1%"."""
    p = trained_bundle.predict_proba(bundled.X)
    i = int(np.argmin(np.abs(p - 0.5)))
    assert 0.001 < p[i] < 0.999
    return [int(v) for v in bundled.X[i]], float(p[i])


def type_into(spinbox, text):
    spinbox.delete(0, "end")
    if text:
        spinbox.insert(0, text)


def fill(tab, root, values):
    for name, value in zip(FEATURES, values):
        type_into(tab.fields[name].input, str(value))
    root.update()


def shown_messages(tab):
    return {name: field.message.cget("text") for name, field in tab.fields.items() if field.message.cget("text")}


@pytest.mark.parametrize("text, words", [
    ("", "enter a whole number from 1 to 10"),
    ("0", "0 is outside 1..10"),
    ("11", "11 is outside 1..10"),
    ("3.5", "3.5 is not a whole number"),
    ("abc", "'abc' is not a number"),
])
def test_bad_input_shows_inline_message_and_refuses_predict(tab, root, text, words):
    fill(tab, root, [5] * 9)
    assert shown_messages(tab) == {}
    assert tab.predict_button.instate(["!disabled"])

    type_into(tab.fields["Bare Nuclei"].input, text)
    root.update()
    messages = shown_messages(tab)
    assert list(messages) == ["Bare Nuclei"]
    assert messages["Bare Nuclei"].startswith("\u26a0 ")  # a symbol, not colour alone
    assert words in messages["Bare Nuclei"]
    assert tab.predict_button.instate(["disabled"])
    assert "1 is missing or not a whole number" in tab.predict_hint.cget("text")

    tab.predict()  # even when called directly, nothing is predicted
    assert tab.prob_label.cget("text") == ""

    type_into(tab.fields["Bare Nuclei"].input, "7")
    root.update()
    assert shown_messages(tab) == {}
    assert tab.predict_button.instate(["!disabled"])


def test_untouched_fields_are_quiet_until_predict_is_tried(tab, root):
    assert shown_messages(tab) == {}
    assert tab.predict_button.instate(["disabled"])
    assert "9 are missing" in tab.predict_hint.cget("text")
    first = tab.fields[FEATURES[0]].input
    first.focus_force()
    root.update()
    first.event_generate("<Return>")
    root.update()
    assert set(shown_messages(tab)) == set(FEATURES)
    assert tab.prob_label.cget("text") == ""


def test_predict_button_shows_the_models_probability(tab, root, trained_bundle, borderline, app):
    values, p = borderline
    fill(tab, root, values)
    tab.predict_button.invoke()
    root.update()
    expected = float(trained_bundle.predict_proba(np.array([values], dtype=float))[0])
    assert expected == pytest.approx(p)
    assert tab.prob_label.cget("text") == f"Malignancy probability {100 * expected:.1f}%"
    word = "MALIGNANT" if expected >= app.threshold else "BENIGN"
    assert word in tab.call_label.cget("text")
    assert trained_bundle.model_id in tab.model_label.cget("text")
    assert "threshold 0.50" in tab.model_label.cget("text")
    assert f"Predicted {word.lower()} ({100 * expected:.1f}%)" in app.status.text()


def test_enter_predicts(tab, root, borderline):
    values, p = borderline
    fill(tab, root, values)
    last = tab.fields[FEATURES[-1]].input
    last.focus_force()
    root.update()
    last.event_generate("<Return>")
    root.update()
    assert tab.prob_label.cget("text") == f"Malignancy probability {100 * p:.1f}%"


def test_typical_examples_are_real_rows_and_called_right(tab, root, bundled):
    for button, label, word in ((tab.benign_button, 0, "BENIGN"), (tab.malignant_button, 1, "MALIGNANT")):
        button.invoke()
        root.update()
        values = [int(tab.fields[name].input.get()) for name in FEATURES]
        rows = bundled.X[bundled.y == label].astype(int)
        assert (rows == values).all(axis=1).any(), "the example is a real row of that class"
        assert "closest to the median" in tab.example_label.cget("text")
        tab.predict_button.invoke()
        root.update()
        assert word in tab.call_label.cget("text")


def test_threshold_change_relabels_the_call(tab, root, app, borderline):
    values, p = borderline
    fill(tab, root, values)
    tab.predict_button.invoke()
    app.set_threshold(min(0.99, round(p + 0.01, 2)))
    root.update()
    assert "BENIGN" in tab.call_label.cget("text")
    assert f"threshold of {100 * app.threshold:.4g}%" in tab.detail_label.cget("text")
    app.set_threshold(max(0.01, round(p - 0.01, 2)))
    root.update()
    assert "MALIGNANT" in tab.call_label.cget("text")
    assert f"threshold {app.threshold:.2f}" in tab.model_label.cget("text")


def test_model_change_recomputes_and_editing_marks_stale(tab, root, app, trained_bundle, borderline):
    values, _ = borderline
    fill(tab, root, values)
    tab.predict_button.invoke()
    other = dataclasses.replace(trained_bundle, network=trained_bundle.network.from_params(
        [w * 0.5 for w in trained_bundle.network.params]))
    app.set_model(other, source="test")
    root.update()
    p = float(other.predict_proba(np.array([values], dtype=float))[0])
    assert tab.prob_label.cget("text") == f"Malignancy probability {100 * p:.1f}%"
    assert other.model_id in tab.model_label.cget("text")
    assert tab.note_label.cget("text") == ""

    type_into(tab.fields["Mitoses"].input, str(values[-1] % 10 + 1))
    root.update()
    assert "changed since this result" in tab.note_label.cget("text")


def test_clear_and_disclaimer(tab, root):
    tab.malignant_button.focus_force()
    root.update()
    tab.malignant_button.event_generate("<Return>")  # Enter presses the focused button
    assert tab.fields[FEATURES[0]].input.get() != ""
    tab.predict_button.invoke()
    tab.clear_button.invoke()
    root.update()
    assert all(tab.fields[name].input.get() == "" for name in FEATURES)
    assert shown_messages(tab) == {}
    assert tab.prob_label.cget("text") == "" and tab.call_label.cget("text") == ""
    texts = []
    stack = [tab]
    while stack:
        widget = stack.pop()
        stack.extend(widget.winfo_children())
        if widget.winfo_class() == "TLabel":
            texts.append(widget.cget("text"))
    assert DISCLAIMER in texts


def test_without_a_model_predict_is_refused(make_app, root):
    app = make_app(model=False)
    assert app.model is None
    root.update()
    tab = app.tabs["patient"]
    tab.malignant_button.invoke()
    root.update()
    assert tab.predict_button.instate(["disabled"])
    assert "No model is loaded" in tab.predict_hint.cget("text")
    assert "No model is loaded" in tab.note_label.cget("text")


def test_self_test_predicts_the_typical_malignant_case(tab, trained_bundle):
    result = tab.self_test()
    assert result["prediction"] == "malignant"
    assert result["model_id"] == trained_bundle.model_id
    assert f"{100 * result['probability']:.1f}%" in tab.prob_label.cget("text") or result["probability"] > 0.9995


def test_an_old_result_is_greyed_struck_through_and_said_to_be_out_of_date(tab, root, app, borderline):
    import tkinter.font as tkfont

    from bcdesktop.gui import widgets

    values, p = borderline
    fill(tab, root, values)
    tab.predict_button.invoke()
    root.update()

    def look(label):
        font = tkfont.nametofont(str(label.cget("font") or "TkDefaultFont"), root=root)
        colour = str(label.cget("foreground"))
        return root.winfo_rgb(colour) if colour else None, bool(font.actual("overstrike"))

    fresh = look(tab.prob_label)
    assert fresh == (root.winfo_rgb(widgets.TEXT), False)
    assert ("result", "current") in app.results["Patient"]

    type_into(tab.fields["Mitoses"].input, str(values[-1] % 10 + 1))  # the scores change after Predict
    root.update()
    assert tab.stale
    for label in (tab.prob_label, tab.call_label, tab.detail_label):
        colour, struck = look(label)
        assert colour == root.winfo_rgb(widgets.MUTED_TEXT), f"{label.cget('text')!r} is not greyed"
    assert look(tab.prob_label)[1] and look(tab.call_label)[1], "the old figure is not struck through"
    assert tab.note_label.cget("text").startswith("\u26a0 Out of date: the scores have changed")
    row = dict(app.results["Patient"])["result"]
    assert row.startswith("out of date"), "the export would give the old figure as current"

    type_into(tab.fields["Mitoses"].input, str(values[-1]))  # back to the scores of the result
    root.update()
    assert not tab.stale and look(tab.prob_label) == fresh and tab.note_label.cget("text") == ""


def test_a_blank_field_after_predict_also_makes_the_result_stale(tab, root, borderline):
    values, _p = borderline
    fill(tab, root, values)
    tab.predict_button.invoke()
    type_into(tab.fields["Bare Nuclei"].input, "")
    root.update()
    assert tab.stale and "Out of date" in tab.note_label.cget("text")
    assert tab.predict_button.instate(["disabled"])
