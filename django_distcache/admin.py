"""The cache dashboard in the Django admin, and its POST-only actions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from django_distcache import dashboard, inspection, operations
from django_distcache.models import Dashboard
from django_distcache.redis.errors import RedisError

logger = logging.getLogger("django_distcache")


class NamespaceForm(forms.Form):
    namespace = forms.ChoiceField(required=False)
    tag = forms.CharField(required=False, max_length=200)

    def __init__(self, *args: Any, namespaces: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ChoiceField, self.fields["namespace"])
        field.choices = [("", "---------")] + [(n, n) for n in namespaces]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("namespace")) == bool(data.get("tag", "").strip()):
            raise forms.ValidationError("Choose a namespace or type a tag (one of them).")
        return data

    def target(self) -> str:
        tag = self.cleaned_data["tag"].strip()
        return f"{operations.TAG_PREFIX}{tag}" if tag else self.cleaned_data["namespace"]


def _choice(request: HttpRequest, name: str, choices: tuple[int, ...], default: int) -> int:
    """An integer query parameter limited to ``choices``."""
    try:
        value = int(request.GET.get(name, default))
    except ValueError:
        return default
    return value if value in choices else default


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """Hit rates, evictions, memory and latency at a glance; invalidate, warm, flush."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.dashboard_view), name=f"{name}_changelist"),
            path("invalidate/", wrap(self.invalidate_view), name=f"{name}_invalidate"),
            path("warm/", wrap(self.warm_view), name=f"{name}_warm"),
            path("flush-write-behind/", wrap(self.flush_view), name=f"{name}_flush"),
            path("inspect/", wrap(self.inspect_view), name=f"{name}_inspect"),
            path("dead-letters/", wrap(self.dead_letters_view), name=f"{name}_dead_letters"),
        ]

    def _back(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:django_distcache_dashboard_changelist")
        )

    def dashboard_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        hours = _choice(request, "hours", dashboard.RANGES, dashboard.CHART_HOURS)
        refresh = _choice(request, "refresh", dashboard.REFRESH_CHOICES, 0)
        page = dashboard.context(hours)
        seen = [row["namespace"] for row in page["snap"]["namespaces"]]
        warming = page["snap"]["warming"]
        context = {
            **self.admin_site.each_context(request),
            **page,
            "title": "Cache dashboard",
            "opts": self.opts,
            "can_act": self.has_change_permission(request),
            "namespace_choices": operations.namespace_choices(seen),
            "warmer_names": warming.get("warmers", []),
            "refresh": refresh,
        }
        return TemplateResponse(request, "admin/django_distcache/dashboard.html", context)

    def inspect_view(self, request: HttpRequest) -> HttpResponse:
        """Read-only: what one entry holds (like distcache_inspect), for viewers too."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        key = request.GET.get("key", "").strip()
        model, pk = request.GET.get("model", "").strip(), request.GET.get("pk", "").strip()
        entry, error = None, None
        if key or (model and pk):
            try:
                full = inspection.key_of_object(model, pk) if model else None
                entry = inspection.inspect_entry(full or inspection.key_of_get_or_set(key))
            except inspection.NothingCached as exc:
                error = str(exc)
            except RedisError as exc:
                error = f"Redis is unavailable: {exc}"
        context = {
            **self.admin_site.each_context(request),
            "title": "Inspect a cache entry",
            "opts": self.opts,
            "key": key,
            "model": model,
            "pk": pk,
            "models": sorted(operations.model_namespaces()),
            "entry": entry,
            "error": error,
        }
        return TemplateResponse(request, "admin/django_distcache/inspect.html", context)

    def _action(
        self, request: HttpRequest, describe: str, run: Callable[[], tuple[str, bool]]
    ) -> HttpResponse:
        """Run an action; ``run`` returns what it did and whether all of it went well."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            done, clean = run()
        except operations.OperationFailed as exc:
            logger.warning(
                "%s from the cache dashboard by %s failed: %s", describe, request.user, exc
            )
            self.message_user(request, f"{describe} failed: {exc}", messages.ERROR)
        else:
            logger.info("%s from the cache dashboard by %s: %s", describe, request.user, done)
            level = messages.SUCCESS if clean else messages.WARNING
            self.message_user(request, f"{describe}: {done}.", level)
        return self._back()

    def invalidate_view(self, request: HttpRequest) -> HttpResponse:
        return require_POST(self._invalidate)(request)

    def _invalidate(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = NamespaceForm(request.POST, namespaces=operations.namespace_choices())
        if not form.is_valid():
            errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
            self.message_user(request, f"Nothing invalidated: {errors}", messages.ERROR)
            return self._back()
        target = form.target()
        return self._action(
            request, "Invalidated", lambda: (operations.invalidate_namespace(target), True)
        )

    def warm_view(self, request: HttpRequest) -> HttpResponse:
        return require_POST(self._warm)(request)

    def _warm(self, request: HttpRequest) -> HttpResponse:
        name = request.POST.get("warmer") or None

        def run() -> tuple[str, bool]:
            reports = operations.run_warmers(name)
            entries = sum(int(r.get("entries") or 0) for r in reports)
            errors = sum(len(r.get("errors") or ()) for r in reports)
            return f"{len(reports)} warmer(s) run, {entries} entries, {errors} errors", not errors

        return self._action(request, f"Warmed {name or 'all warmers'}", run)

    def dead_letters_view(self, request: HttpRequest) -> HttpResponse:
        return require_POST(self._dead_letters)(request)

    def _dead_letters(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        model, action = request.POST.get("model", ""), request.POST.get("action", "")
        done = {"replay": "Replayed", "discard": "Discarded"}.get(action)
        if done is None:
            self.message_user(request, f"Unknown dead-letter action {action!r}.", messages.ERROR)
            return self._back()
        return self._action(
            request,
            f"{done} the dead letters of {model}",
            lambda: (str(operations.settle_dead_letters(model, action)), True),
        )

    def flush_view(self, request: HttpRequest) -> HttpResponse:
        return require_POST(self._flush)(request)

    def _flush(self, request: HttpRequest) -> HttpResponse:
        model = request.POST.get("model") or None

        def run() -> tuple[str, bool]:
            result = operations.flush_write_behind(model)
            counts = (f"{name.replace('_', ' ')} {n}" for name, n in result.items())
            return ", ".join(counts) or "nothing pending", not result.get("dead_lettered")

        return self._action(request, f"Flushed write-behind of {model or 'all models'}", run)
