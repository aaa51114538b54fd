"""Prompt templates (data in ``templates/*.yaml``) and their rendering."""

from mimicgen.templates.loader import TaskTemplates, TemplateSet, load_template_set
from mimicgen.templates.render import class_phrase, inflect_engine, plural, render_question

__all__ = [
    "TaskTemplates",
    "TemplateSet",
    "class_phrase",
    "inflect_engine",
    "load_template_set",
    "plural",
    "render_question",
]
