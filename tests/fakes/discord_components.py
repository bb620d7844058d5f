"""What the fake Discord checks in message and modal payloads, with Discord's documented limits.

A payload Discord would refuse gets the refusal Discord gives (400, code 50035 "Invalid Form Body", or
50006 for an empty message), so a test against the fake fails where the real service would:

- legacy messages: `content` at most 2,000 characters, at most 5 action rows of at most 5 buttons;
  layout components (container, text display, …) without the IS_COMPONENTS_V2 flag are refused;
- IS_COMPONENTS_V2 (`1 << 15`) messages: no `content`, `embeds`, `poll` or `sticker_ids`; at most 40
  components counted at every depth; at most 4,000 characters over all text displays; a file component
  must name an attachment of the message (`attachment://name`); the flag, once set, cannot be removed;
  a message may opt in on an edit only if its content and embeds are cleared in the same edit;
- buttons: custom_id 1-100 characters and unique in the message, label at most 80;
- modals: title 1-45, 1-5 top-level components, a text input in an action row (alone) or a label,
  radio groups (2-10 options, one default at most), checkbox groups and checkboxes only inside a label;
  label text 1-45, description at most 100.

References: discord.com/developers/docs/components/reference, …/resources/message (docs/discord-notes.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAX_CONTENT = 2000
IS_COMPONENTS_V2 = 1 << 15
EPHEMERAL = 1 << 6
V2_MAX_COMPONENTS = 40
V2_MAX_TEXT = 4000
LEGACY_MAX_ROWS = 5
ROW_MAX_BUTTONS = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
MODAL_TITLE_MAX = 45
MODAL_MAX_COMPONENTS = 5
LABEL_MAX = 45
LABEL_DESCRIPTION_MAX = 100
OPTION_TEXT_MAX = 100
TEXT_INPUT_MAX = 4000

ACTION_ROW, BUTTON, STRING_SELECT, TEXT_INPUT = 1, 2, 3, 4
SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER = 9, 10, 11, 12, 13, 14, 17
LABEL, FILE_UPLOAD, RADIO_GROUP, CHECKBOX_GROUP, CHECKBOX = 18, 19, 21, 22, 23
SELECTS = {3, 5, 6, 7, 8}
LAYOUT_ONLY = {SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER}
V2_TOP_LEVEL = {ACTION_ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR, CONTAINER}
CONTAINER_CHILDREN = {ACTION_ROW, SECTION, TEXT_DISPLAY, MEDIA_GALLERY, FILE, SEPARATOR}
LABEL_CHILDREN = {TEXT_INPUT, FILE_UPLOAD, RADIO_GROUP, CHECKBOX_GROUP, CHECKBOX} | SELECTS


class Refused(Exception):
    """What Discord answers to a malformed payload: (status, code, message)."""

    def __init__(self, message: str, *, code: int = 50035, status: int = 400) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def walk(components: list[dict[str, Any]] | None) -> Iterator[dict[str, Any]]:
    """Every component at every depth, in order (a container's children, a section's accessory, a label's input)."""
    for comp in components or []:
        yield comp
        yield from walk(comp.get("components"))
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                yield from walk([comp[key]])


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of a message payload, in order, at any depth."""
    return [c for c in walk(message.get("components")) if c.get("type") == BUTTON]


def text_of(message: dict[str, Any]) -> str:
    """What a reader sees as text: the content, or the text displays of a layout message, one per line."""
    shown = [str(message.get("content") or "")] if message.get("content") else []
    shown += [str(c.get("content", "")) for c in walk(message.get("components")) if c.get("type") == TEXT_DISPLAY]
    return "\n".join(shown)


def _invalid(where: str, why: str) -> Refused:
    return Refused(f"Invalid Form Body: {where}: {why}")


# ---------------------------------------------------------------------- messages


def check_message(
    payload: dict[str, Any],
    *,
    existing: dict[str, Any] | None = None,
    filenames: tuple[str, ...] = (),
    require_body: bool = False,
) -> None:
    """Raise Refused where Discord would refuse `payload` (a create, or an edit of `existing`)."""
    old_flags = int((existing or {}).get("flags") or 0)
    new_flags = int(payload["flags"]) if payload.get("flags") is not None else None
    v2 = bool(old_flags & IS_COMPONENTS_V2) or bool((new_flags or 0) & IS_COMPONENTS_V2)
    if old_flags & IS_COMPONENTS_V2 and new_flags is not None and not new_flags & IS_COMPONENTS_V2:
        raise _invalid("flags", "The IS_COMPONENTS_V2 flag cannot be removed from a message.")
    content = payload.get("content")
    components = payload.get("components")
    if v2:
        for field in ("content", "embeds", "poll", "sticker_ids"):
            if payload.get(field):
                raise _invalid(field, f"{field} cannot be used with the IS_COMPONENTS_V2 flag.")
        opting_in = existing is not None and not old_flags & IS_COMPONENTS_V2
        if opting_in:
            for field in ("content", "embeds"):
                if existing.get(field) and field not in payload:
                    raise _invalid(field, f"Clear {field} (set it to null) to opt a message into IS_COMPONENTS_V2.")
        if components is not None:
            _check_layout(components, filenames=filenames + _kept_files(payload, existing))
        elif existing is None and require_body:
            raise Refused("Cannot send an empty message", code=50006)
        return
    if content is not None and len(content) > MAX_CONTENT:
        raise _invalid("content", f"Must be {MAX_CONTENT} or fewer in length.")
    embeds = payload.get("embeds") or []
    total = sum(len(e.get("title", "")) + len(e.get("description", "")) for e in embeds)
    if len(embeds) > 10 or total > 6000:
        raise _invalid("embeds", "Embed size exceeds maximum size of 6000")
    if components is not None:
        _check_legacy(components)
    if require_body and not (content or embeds or components or filenames or payload.get("sticker_ids")):
        raise Refused("Cannot send an empty message", code=50006)


def _kept_files(payload: dict[str, Any], existing: dict[str, Any] | None) -> tuple[str, ...]:
    if existing is None:
        return ()
    if "attachments" in payload:
        kept = {str(a.get("id")) for a in payload["attachments"] or []}
        return tuple(a["filename"] for a in existing.get("attachments") or [] if a["id"] in kept)
    return tuple(a["filename"] for a in existing.get("attachments") or [])


def _check_legacy(components: list[dict[str, Any]]) -> None:
    if len(components) > LEGACY_MAX_ROWS:
        raise _invalid("components", f"Must be {LEGACY_MAX_ROWS} or fewer in length.")
    for i, comp in enumerate(components):
        if comp.get("type") in LAYOUT_ONLY:
            raise _invalid(f"components.{i}", "This component type requires the IS_COMPONENTS_V2 flag.")
        if comp.get("type") != ACTION_ROW:
            raise _invalid(f"components.{i}.type", "Only action rows may be top-level in this message.")
        _check_row(comp, f"components.{i}")
    _check_custom_ids(components)


def _check_row(row: dict[str, Any], where: str) -> None:
    inner = row.get("components") or []
    if not inner:
        raise _invalid(f"{where}.components", "Must be 1 or more in length.")
    kinds = {c.get("type") for c in inner}
    if kinds & SELECTS and len(inner) > 1:
        raise _invalid(f"{where}.components", "A select menu must be alone in its action row.")
    if len(inner) > ROW_MAX_BUTTONS:
        raise _invalid(f"{where}.components", f"Must be {ROW_MAX_BUTTONS} or fewer in length.")
    for j, comp in enumerate(inner):
        if comp.get("type") != BUTTON and comp.get("type") not in SELECTS:
            raise _invalid(f"{where}.components.{j}.type", "An action row holds buttons or one select menu.")
        if comp.get("type") == BUTTON:
            label = comp.get("label") or ""
            if len(label) > BUTTON_LABEL_MAX:
                raise _invalid(f"{where}.components.{j}.label", f"Must be {BUTTON_LABEL_MAX} or fewer in length.")
            if comp.get("style") != 5 and not 1 <= len(str(comp.get("custom_id") or "")) <= CUSTOM_ID_MAX:
                raise _invalid(f"{where}.components.{j}.custom_id", "Must be between 1 and 100 in length.")


def _check_custom_ids(components: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for comp in walk(components):
        cid = comp.get("custom_id")
        if cid is None:
            continue
        if cid in seen:
            raise _invalid("components", f"Component custom id cannot be duplicated ({cid})")
        seen.add(cid)


def _check_layout(components: list[dict[str, Any]], *, filenames: tuple[str, ...]) -> None:
    every = list(walk(components))
    if not components:
        raise _invalid("components", "Must be 1 or more in length.")
    if len(every) > V2_MAX_COMPONENTS:
        raise _invalid("components", f"The message has {len(every)} components; at most {V2_MAX_COMPONENTS}.")
    text = sum(len(str(c.get("content") or "")) for c in every if c.get("type") == TEXT_DISPLAY)
    if text > V2_MAX_TEXT:
        raise _invalid("components", f"Text displays hold {text} characters; at most {V2_MAX_TEXT} in all.")
    for i, comp in enumerate(components):
        if comp.get("type") not in V2_TOP_LEVEL:
            raise _invalid(f"components.{i}.type", "This component cannot be top-level in a message.")
        _check_node(comp, f"components.{i}", filenames)
    _check_custom_ids(components)


def _check_node(comp: dict[str, Any], where: str, filenames: tuple[str, ...]) -> None:
    kind = comp.get("type")
    if kind == CONTAINER:
        inner = comp.get("components") or []
        if not inner:
            raise _invalid(f"{where}.components", "Must be 1 or more in length.")
        for j, child in enumerate(inner):
            if child.get("type") not in CONTAINER_CHILDREN:
                raise _invalid(f"{where}.components.{j}.type", "This component cannot be in a container.")
            _check_node(child, f"{where}.components.{j}", filenames)
        colour = comp.get("accent_color")
        if colour is not None and not 0 <= int(colour) <= 0xFFFFFF:
            raise _invalid(f"{where}.accent_color", "Must be an RGB integer.")
    elif kind == ACTION_ROW:
        _check_row(comp, where)
    elif kind == TEXT_DISPLAY:
        if not str(comp.get("content") or ""):
            raise _invalid(f"{where}.content", "Must be 1 or more in length.")
    elif kind == SEPARATOR:
        if comp.get("spacing") not in (None, 1, 2):
            raise _invalid(f"{where}.spacing", "Must be 1 (small) or 2 (large).")
    elif kind == FILE:
        url = str((comp.get("file") or {}).get("url") or "")
        if not url.startswith("attachment://"):
            raise _invalid(f"{where}.file.url", "A file component takes attachment://<filename> only.")
        if url.removeprefix("attachment://") not in filenames:
            raise _invalid(f"{where}.file.url", f"No attachment named {url.removeprefix('attachment://')!r}.")


# ---------------------------------------------------------------------- modals


def check_modal(data: dict[str, Any]) -> None:
    """Raise Refused where Discord would refuse a modal (an interaction callback of type 9)."""
    title = str(data.get("title") or "")
    if not 1 <= len(title) <= MODAL_TITLE_MAX:
        raise _invalid("data.title", f"Must be between 1 and {MODAL_TITLE_MAX} in length.")
    if not 1 <= len(str(data.get("custom_id") or "")) <= CUSTOM_ID_MAX:
        raise _invalid("data.custom_id", "Must be between 1 and 100 in length.")
    components = data.get("components") or []
    if not 1 <= len(components) <= MODAL_MAX_COMPONENTS:
        raise _invalid("data.components", f"Must be between 1 and {MODAL_MAX_COMPONENTS} in length.")
    for i, comp in enumerate(components):
        where = f"data.components.{i}"
        kind = comp.get("type")
        if kind == ACTION_ROW:
            inner = comp.get("components") or []
            if len(inner) != 1 or inner[0].get("type") != TEXT_INPUT:
                raise _invalid(where, "An action row in a modal holds exactly one text input.")
            _check_input(inner[0], f"{where}.components.0", in_label=False)
        elif kind == LABEL:
            text = str(comp.get("label") or "")
            if not 1 <= len(text) <= LABEL_MAX:
                raise _invalid(f"{where}.label", f"Must be between 1 and {LABEL_MAX} in length.")
            if len(str(comp.get("description") or "")) > LABEL_DESCRIPTION_MAX:
                raise _invalid(f"{where}.description", f"Must be {LABEL_DESCRIPTION_MAX} or fewer in length.")
            inner = comp.get("component")
            if not isinstance(inner, dict) or inner.get("type") not in LABEL_CHILDREN:
                raise _invalid(f"{where}.component", "A label wraps one input component.")
            _check_input(inner, f"{where}.component", in_label=True)
        elif kind == TEXT_DISPLAY:
            if not str(comp.get("content") or ""):
                raise _invalid(f"{where}.content", "Must be 1 or more in length.")
        else:
            raise _invalid(f"{where}.type", "This component cannot be top-level in a modal.")
    _check_custom_ids(components)


def _check_input(comp: dict[str, Any], where: str, *, in_label: bool) -> None:
    kind = comp.get("type")
    if not 1 <= len(str(comp.get("custom_id") or "")) <= CUSTOM_ID_MAX:
        raise _invalid(f"{where}.custom_id", "Must be between 1 and 100 in length.")
    if kind == TEXT_INPUT:
        if comp.get("style") not in (1, 2):
            raise _invalid(f"{where}.style", "Must be 1 (short) or 2 (paragraph).")
        if not in_label and not 1 <= len(str(comp.get("label") or "")) <= LABEL_MAX:
            raise _invalid(f"{where}.label", f"Must be between 1 and {LABEL_MAX} in length.")
        low, high = int(comp.get("min_length") or 0), int(comp.get("max_length") or TEXT_INPUT_MAX)
        if not (0 <= low <= TEXT_INPUT_MAX and 1 <= high <= TEXT_INPUT_MAX and low <= high):
            raise _invalid(where, "min_length and max_length must lie in 0-4000 and 1-4000, min ≤ max.")
        if len(str(comp.get("value") or "")) > high:
            raise _invalid(f"{where}.value", f"Must be {high} or fewer in length.")
    elif kind in (RADIO_GROUP, CHECKBOX_GROUP):
        options = comp.get("options") or []
        low = 2 if kind == RADIO_GROUP else 1
        if not low <= len(options) <= 10:
            raise _invalid(f"{where}.options", f"Must be between {low} and 10 in length.")
        for k, option in enumerate(options):
            for field in ("label", "value", "description"):
                if len(str(option.get(field) or "")) > OPTION_TEXT_MAX:
                    raise _invalid(f"{where}.options.{k}.{field}", f"Must be {OPTION_TEXT_MAX} or fewer in length.")
            if not option.get("label") or not option.get("value"):
                raise _invalid(f"{where}.options.{k}", "An option needs a label and a value.")
        values = [str(o["value"]) for o in options]
        if len(set(values)) != len(values):
            raise _invalid(f"{where}.options", "Option values must be unique.")
        if kind == RADIO_GROUP and sum(1 for o in options if o.get("default")) > 1:
            raise _invalid(f"{where}.options", "A radio group has at most one default option.")


def modal_inputs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The input components of a modal by custom_id (the shape a submission is built from)."""
    found: dict[str, dict[str, Any]] = {}
    for comp in data.get("components") or []:
        inner = comp.get("components") or ([comp["component"]] if isinstance(comp.get("component"), dict) else [])
        for item in inner:
            if "custom_id" in item:
                found[str(item["custom_id"])] = item
    return found


def submission(data: dict[str, Any], values: dict[str, str]) -> list[dict[str, Any]]:
    """The `components` of a MODAL_SUBMIT for the modal `data`, as Discord's client would send them.

    Raises AssertionError for what the client would not let a person submit: a value for no input, a
    required input left empty, a choice that is not an option, a text longer than the input allows."""
    inputs = modal_inputs(data)
    unknown = set(values) - set(inputs)
    assert not unknown, f"the modal has no input {sorted(unknown)}"
    out: list[dict[str, Any]] = []
    for comp in data.get("components") or []:
        if comp.get("type") == ACTION_ROW:
            item = comp["components"][0]
            out.append({"type": ACTION_ROW, "components": [_answer(item, values.get(item["custom_id"]))]})
        elif comp.get("type") == LABEL:
            out.append(
                {"type": LABEL, "component": _answer(comp["component"], values.get(comp["component"]["custom_id"]))}
            )
    return out


def _answer(item: dict[str, Any], value: str | None) -> dict[str, Any]:
    kind, cid = item["type"], item["custom_id"]
    required = item.get("required", True)
    if kind == TEXT_INPUT:
        text = value or ""
        assert text or not required, f"{cid} is required"
        assert len(text) <= int(item.get("max_length") or TEXT_INPUT_MAX), f"{cid} is too long"
        return {"type": TEXT_INPUT, "custom_id": cid, "value": text}
    if kind == RADIO_GROUP:
        choices = {str(o["value"]) for o in item.get("options") or []}
        assert value is not None or not required, f"{cid} is required"
        assert value is None or value in choices, f"{value!r} is not an option of {cid}"
        return {"type": RADIO_GROUP, "custom_id": cid, "value": value}
    raise AssertionError(f"the fake cannot fill a component of type {kind}")
