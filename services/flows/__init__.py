"""Flows: on an event type, if a condition holds, render each action's fields and hand it over.

    context      what conditions and templates see of an event, and its shape for config checks
    conditions   the `if` language: Python expression syntax over an allow-list, never `eval`
    templates    the bounded Jinja2 sandbox the field mappings (and the http/mail targets) render in
    compile      checks every flow of the config and compiles it once
"""
