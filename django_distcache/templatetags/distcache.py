"""``{% distcache %}``: template fragments cached until a model or tag they depend on changes."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.base import FilterExpression, NodeList, Parser, Token
from django.utils.safestring import SafeString, mark_safe

from django_distcache import rendering

register = template.Library()
OPTIONS = ("depends_on", "tags", "timeout")


def _names(value: Any) -> list[Any]:
    """``"a, b"`` or a list of names (or models) -> a list without blanks."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return list(value)


class DistcacheNode(template.Node):
    def __init__(
        self,
        nodelist: NodeList,
        name: str,
        vary_on: list[FilterExpression],
        options: dict[str, FilterExpression],
    ) -> None:
        self.nodelist = nodelist
        self.name = name
        self.vary_on = vary_on
        self.options = options

    def render(self, context: template.Context) -> SafeString:
        option = {name: expr.resolve(context) for name, expr in self.options.items()}
        timeout = option.get("timeout")
        namespace = f"fragment.{self.name}"
        generations = rendering.generation_keys(
            namespace, _names(option.get("depends_on")), _names(option.get("tags"))
        )
        key = rendering.entry_key("tpl", namespace, [v.resolve(context) for v in self.vary_on])
        html = rendering.fetch_rendered(
            namespace,
            key,
            generations,
            lambda: str(self.nodelist.render(context)),
            timeout=float(timeout) if timeout not in (None, "") else None,
        )
        return mark_safe(html)  # the fragment as its template rendered and escaped it


@register.tag("distcache")
def do_distcache(parser: Parser, token: Token) -> DistcacheNode:
    """``{% distcache "name" [vary_on...] [depends_on="app.Model,..."] [tags="a,b"]
    [timeout=300] %}...{% enddistcache %}``"""
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError(
            f"'{bits[0]}' needs a fragment name: {{% distcache \"name\" ... %}}"
        )
    name = bits[1].strip("\"'")
    vary_on: list[FilterExpression] = []
    options: dict[str, FilterExpression] = {}
    for bit in bits[2:]:
        option, equals, value = bit.partition("=")
        if equals and option.isidentifier():
            if option not in OPTIONS:
                raise template.TemplateSyntaxError(
                    f"'{bits[0]}' has no option {option!r}; use {', '.join(OPTIONS)}."
                )
            options[option] = parser.compile_filter(value)
        else:
            vary_on.append(parser.compile_filter(bit))
    nodelist = parser.parse(("enddistcache",))
    parser.delete_first_token()
    return DistcacheNode(nodelist, name, vary_on, options)
