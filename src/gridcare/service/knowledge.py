"""The knowledge base (知识库) the 95598 agents answer consultations from (issue 15 §6): services and selectors.

An article's text lives in numbered versions. A version is drafted (knowledge.edit), submitted, then approved or
rejected by a second person (knowledge.approve; the author of a version may never review it). Approving publishes
the version: the article points at it and takes its title; the version published before stays in the history.
Retiring an article (knowledge.approve) takes it out of search without deleting anything.

One open version at a time: while a draft exists a new draft revises it in place (same number), and while a
version awaits review no new draft is started. Every write is audited (`knowledge.*`).

Search (`kb_search`) reads only published versions: every term of the query must occur in the title, the keywords
or the body (case-insensitive substring, on SQLite and PostgreSQL alike), and articles hit in the title rank before
those hit only in the keywords, then only in the body."""

from __future__ import annotations

import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Max, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from gridcare.core.audit import Actor, audit_record
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied

from .choices import ArticleStatus
from .models import KnowledgeArticle, KnowledgeVersion

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")
RESERVED_CODES = frozenset({"new", "review"})  # page paths under /service/kb/
TITLE_MAX, CATEGORY_MAX, KEYWORDS_MAX, BODY_MAX, NOTE_MAX = 200, 40, 200, 20000, 300
MAX_TERMS = 5
OPEN = (ArticleStatus.DRAFT, ArticleStatus.PENDING)


def _err(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _require(actor: Actor, perm: str) -> None:
    if actor.user is None or not has_perm(actor.user, perm):
        raise PermissionDenied()


def _audit(actor: Actor, action: str, article: KnowledgeArticle, changes: dict) -> None:
    audit_record(
        actor=actor,
        action=action,
        obj=article,
        unit_id=getattr(actor.user, "unit_id", None),
        changes=changes,
    )


def _clean_text(title: str, body: str, keywords: str) -> tuple[str, str, str]:
    title, body, keywords = (title or "").strip(), (body or "").strip(), " ".join((keywords or "").split())
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [_("请填写标题")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("标题不能超过 %(n)d 个字") % {"n": TITLE_MAX}]
    if not body:
        errors["body"] = [_("请填写正文")]
    elif len(body) > BODY_MAX:
        errors["body"] = [_("正文不能超过 %(n)d 个字") % {"n": BODY_MAX}]
    if len(keywords) > KEYWORDS_MAX:
        errors["keywords"] = [_("关键词不能超过 %(n)d 个字") % {"n": KEYWORDS_MAX}]
    if errors:
        raise ValidationError(errors)
    return title, body, keywords


def _next_code() -> str:
    taken = KnowledgeArticle.objects.filter(code__regex=r"^KB[0-9]{5}$").aggregate(m=Max("code"))["m"]
    return f"KB{int(taken[2:]) + 1 if taken else 1:05d}"


# ---------------------------------------------------------------- services


def article_create(
    *,
    actor: Actor,
    category: str,
    title: str,
    body: str,
    keywords: str = "",
    code: str | None = None,
) -> KnowledgeArticle:
    """A new article with its version 1 as a draft (knowledge.edit). `code` is given (letters, digits, - and _,
    at most 20) or the next KBnnnnn."""
    _require(actor, Perm.KNOWLEDGE_EDIT)
    category = " ".join((category or "").split())
    title, body, keywords = _clean_text(title, body, keywords)
    if not category:
        raise _err("category", _("请填写分类"))
    if len(category) > CATEGORY_MAX:
        raise _err("category", _("分类不能超过 %(n)d 个字") % {"n": CATEGORY_MAX})
    code = (code or "").strip()
    if code:
        if not CODE_RE.match(code) or code.lower() in RESERVED_CODES:
            raise _err("code", _("编号只能由字母、数字、- 和 _ 组成，最多 20 位"))
        if KnowledgeArticle.objects.filter(code__iexact=code).exists():
            raise _err("code", _("编号 %(c)s 已存在") % {"c": code})
    with transaction.atomic():
        article = None
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    article = KnowledgeArticle.objects.create(
                        code=code or _next_code(), category=category, title=title
                    )
                break
            except IntegrityError:
                if code:
                    raise _err("code", _("编号 %(c)s 已存在") % {"c": code}) from None
        if article is None:  # pragma: no cover - five concurrent creators in a row
            raise _err("code", _("编号生成失败，请重试"))
        KnowledgeVersion.objects.create(
            article=article, version=1, title=title, body=body, keywords=keywords, author=actor.user
        )
        _audit(
            actor,
            "knowledge.create",
            article,
            {"code": article.code, "category": category, "title": title, "version": 1},
        )
    return article


def _locked(article: KnowledgeArticle) -> KnowledgeArticle:
    return KnowledgeArticle.objects.select_for_update().get(pk=article.pk)


def version_draft(
    *, actor: Actor, article: KnowledgeArticle, title: str, body: str, keywords: str = ""
) -> KnowledgeVersion:
    """A new draft version of `article` (knowledge.edit). An unsubmitted draft is revised in place (its number
    kept, its author now the reviser); refused while a version awaits review."""
    _require(actor, Perm.KNOWLEDGE_EDIT)
    title, body, keywords = _clean_text(title, body, keywords)
    with transaction.atomic():
        article = _locked(article)
        open_version = article.versions.filter(status__in=OPEN).first()
        if open_version is not None and open_version.status == ArticleStatus.PENDING:
            raise _err(
                "version",
                _("第 %(n)d 版正在审核中，审核后才能再修改") % {"n": open_version.version},
            )
        if open_version is not None:
            open_version.title, open_version.body, open_version.keywords = title, body, keywords
            open_version.author = actor.user
            open_version.save(update_fields=["title", "body", "keywords", "author"])
            version = open_version
        else:
            number = (article.versions.aggregate(m=Max("version"))["m"] or 0) + 1
            version = KnowledgeVersion.objects.create(
                article=article,
                version=number,
                title=title,
                body=body,
                keywords=keywords,
                author=actor.user,
            )
        _audit(actor, "knowledge.draft", article, {"version": version.version, "title": title})
    return version


def _version(article: KnowledgeArticle, number: int) -> KnowledgeVersion:
    if not 0 < number < 2**31:  # past the column's range a lookup would overflow the driver; it is missing
        raise Http404
    version = article.versions.select_for_update().filter(version=number).first()
    if version is None:
        raise Http404
    return version


def version_submit(*, actor: Actor, article: KnowledgeArticle, number: int) -> KnowledgeVersion:
    """Send a draft for review (knowledge.edit)."""
    _require(actor, Perm.KNOWLEDGE_EDIT)
    with transaction.atomic():
        article = _locked(article)
        version = _version(article, number)
        if version.status != ArticleStatus.DRAFT:
            raise _err(
                "version",
                _("第 %(n)d 版当前为“%(s)s”，只有草稿可以提交审核")
                % {"n": number, "s": ArticleStatus(version.status).label},
            )
        version.status = ArticleStatus.PENDING
        version.save(update_fields=["status"])
        _audit(
            actor,
            "knowledge.submit",
            article,
            {"version": number, "status": [ArticleStatus.DRAFT, ArticleStatus.PENDING]},
        )
    return version


def _review(
    actor: Actor, article: KnowledgeArticle, number: int, now: datetime | None
) -> tuple[KnowledgeArticle, KnowledgeVersion, datetime]:
    _require(actor, Perm.KNOWLEDGE_APPROVE)
    article = _locked(article)
    version = _version(article, number)
    if version.status != ArticleStatus.PENDING:
        raise _err(
            "version",
            _("第 %(n)d 版当前为“%(s)s”，不在待审核状态")
            % {"n": number, "s": ArticleStatus(version.status).label},
        )
    if version.author_id is not None and version.author_id == actor.user.pk:
        raise _err("version", _("不能审核自己编写的版本，须由另一位审核人审核"))
    return article, version, now or timezone.now()


def version_approve(
    *, actor: Actor, article: KnowledgeArticle, number: int, note: str = "", now: datetime | None = None
) -> KnowledgeVersion:
    """Approve and publish a submitted version (knowledge.approve, not its author). The article takes its title;
    the version published before stays in the history as it was."""
    with transaction.atomic():
        article, version, now = _review(actor, article, number, now)
        before = article.published.version if article.published_id else None
        version.status = ArticleStatus.APPROVED
        version.reviewer = actor.user
        version.review_note = (note or "").strip()[:NOTE_MAX]
        version.reviewed_at = now
        version.save(update_fields=["status", "reviewer", "review_note", "reviewed_at"])
        article.published = version
        article.title = version.title
        article.save(update_fields=["published", "title"])
        _audit(
            actor,
            "knowledge.approve",
            article,
            {"version": [before, number], "title": version.title, **({"note": note} if note else {})},
        )
    return version


def version_reject(
    *, actor: Actor, article: KnowledgeArticle, number: int, note: str, now: datetime | None = None
) -> KnowledgeVersion:
    """Send a submitted version back with a reason (knowledge.approve, not its author). A new draft may follow."""
    note = (note or "").strip()
    if not note:
        raise _err("note", _("退回须填写原因"))
    if len(note) > NOTE_MAX:
        raise _err("note", _("原因不能超过 %(n)d 个字") % {"n": NOTE_MAX})
    with transaction.atomic():
        article, version, now = _review(actor, article, number, now)
        version.status = ArticleStatus.REJECTED
        version.reviewer = actor.user
        version.review_note = note
        version.reviewed_at = now
        version.save(update_fields=["status", "reviewer", "review_note", "reviewed_at"])
        _audit(
            actor,
            "knowledge.reject",
            article,
            {"version": number, "status": [ArticleStatus.PENDING, ArticleStatus.REJECTED], "note": note},
        )
    return version


def article_retire(*, actor: Actor, article: KnowledgeArticle, note: str = "") -> KnowledgeArticle:
    """Take a published article out of use (knowledge.approve): its published version is marked retired and it
    leaves search; the history stays. A later approved version publishes it again."""
    _require(actor, Perm.KNOWLEDGE_APPROVE)
    with transaction.atomic():
        article = _locked(article)
        if not article.published_id:
            raise _err("code", _("该知识未发布，无需停用"))
        version = article.published
        KnowledgeVersion.objects.filter(pk=version.pk).update(status=ArticleStatus.RETIRED)
        article.published = None
        article.save(update_fields=["published"])
        _audit(
            actor,
            "knowledge.retire",
            article,
            {"version": version.version, **({"note": note.strip()[:NOTE_MAX]} if note.strip() else {})},
        )
    return article


# ---------------------------------------------------------------- selectors


def may_edit(user) -> bool:
    return has_perm(user, Perm.KNOWLEDGE_EDIT) or has_perm(user, Perm.KNOWLEDGE_APPROVE)


def search_terms(q: str) -> list[str]:
    """The words of a query (spaces, commas, 、 between them), at most MAX_TERMS of at most 50 characters."""
    for sep in ",，;；、":
        q = (q or "").replace(sep, " ")
    return [t[:50] for t in q.split()][:MAX_TERMS]


def kb_search(user, *, q: str = "", category: str = "") -> QuerySet[KnowledgeArticle]:
    """Published articles matching every term of `q` (title, keywords or body of the published version) in
    `category`; title hits first, then keyword hits, then body hits, then by code. None without workorder.view."""
    if not has_perm(user, Perm.WORKORDER_VIEW):
        return KnowledgeArticle.objects.none()
    qs = KnowledgeArticle.objects.filter(published__isnull=False).select_related("published")
    if category:
        qs = qs.filter(category=category)
    terms = search_terms(q)
    if not terms:
        return qs.order_by("category", "code")

    def hits(field: str):
        total = Value(0)
        for t in terms:
            total = total + Case(
                When(**{f"published__{field}__icontains": t}, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
        return total

    for t in terms:
        qs = qs.filter(
            Q(published__title__icontains=t)
            | Q(published__keywords__icontains=t)
            | Q(published__body__icontains=t)
        )
    return qs.annotate(
        title_hits=hits("title"), keyword_hits=hits("keywords"), body_hits=hits("body")
    ).order_by("-title_hits", "-keyword_hits", "-body_hits", "code")


def kb_categories(user) -> list[str]:
    """Categories of the published articles, for the filter."""
    if not has_perm(user, Perm.WORKORDER_VIEW):
        return []
    return list(
        KnowledgeArticle.objects.filter(published__isnull=False)
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


def kb_article_get(user, code: str) -> KnowledgeArticle:
    """One article for a staff user: a published one under workorder.view, any one for editors and reviewers;
    else Http404 (missing and not visible alike)."""
    if not has_perm(user, Perm.WORKORDER_VIEW):
        raise Http404
    qs = KnowledgeArticle.objects.select_related("published", "published__author", "published__reviewer")
    if not may_edit(user):
        qs = qs.filter(published__isnull=False)
    article = qs.filter(code=code).first()
    if article is None:
        raise Http404
    return article


def user_label(user) -> str:
    """A staff member as shown in the history: their name, else their username."""
    if user is None:
        return ""
    return getattr(user, "display_name", "") or user.get_username()


def kb_versions(article: KnowledgeArticle) -> list[KnowledgeVersion]:
    """The article's versions, newest first, each with `author_name` and `reviewer_name` set."""
    versions = list(article.versions.select_related("author", "reviewer").order_by("-version"))
    for v in versions:
        v.author_name, v.reviewer_name = user_label(v.author), user_label(v.reviewer)
    return versions


def kb_open_version(article: KnowledgeArticle) -> KnowledgeVersion | None:
    return article.versions.filter(status__in=OPEN).first()


def kb_review_queue(user) -> QuerySet[KnowledgeVersion]:
    """Versions awaiting review, oldest first (knowledge.approve)."""
    if not has_perm(user, Perm.KNOWLEDGE_APPROVE):
        return KnowledgeVersion.objects.none()
    return (
        KnowledgeVersion.objects.filter(status=ArticleStatus.PENDING)
        .select_related("article", "author")
        .order_by("created_at", "id")
    )


def excerpt(body: str, terms: list[str], width: int = 120) -> str:
    """A piece of `body` around the first term found in it (or its start), for a result list."""
    text = " ".join((body or "").split())
    low = text.lower()
    at = min((i for i in (low.find(t.lower()) for t in terms) if i >= 0), default=0)
    start = max(0, at - width // 3)
    piece = text[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")
