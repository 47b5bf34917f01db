"""Knowledge-base API of the 95598 service (issue 15 §6). Mounted at /api/v1/ by gridcare/api.py.

- `GET /knowledge?q=&category=` (workorder.view): published articles, title hits before keyword and body hits;
- `GET /knowledge/{code}` (workorder.view): the published text and the version history; editors and reviewers
  (knowledge.edit / knowledge.approve) also see unpublished articles and every version's text;
- `POST /knowledge` (knowledge.edit): a new article, its version 1 a draft;
- `POST /knowledge/{code}/versions` (knowledge.edit): a new draft (an unsubmitted draft is revised in place);
- `POST /knowledge/{code}/versions/{n}/submit` (knowledge.edit), `.../approve` and `.../reject`
  (knowledge.approve, never the version's author: 422), `POST /knowledge/{code}/retire` (knowledge.approve).
Anonymous → 401; a role without the route's permission (a portal customer included) → 403 before any lookup;
a missing article or version → 404; bad input → 422 naming the field."""

from datetime import datetime
from typing import Any

from django.http import Http404
from ninja import Field, Query, Router, Schema, Status

from gridcare.core.api import (
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    ErrorOut,
    PageParams,
    Text,
    api_actor,
    paginate,
    require_perm,
)
from gridcare.core.permissions import Perm

from . import knowledge as kb
from .choices import ArticleStatus
from .models import KnowledgeArticle, KnowledgeVersion

router = Router(tags=["knowledge"])


class KnowledgeFilter(Schema):
    q: Text = Field("", max_length=100, description="关键词（空格分隔，最多 5 个，须全部命中）")
    category: Text = Field("", max_length=40, description="分类")


class KnowledgeItemOut(Schema):
    code: str
    category: str
    title: str
    version: int
    keywords: str
    excerpt: str


class KnowledgePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[KnowledgeItemOut]


class KnowledgeVersionOut(Schema):
    version: int
    title: str
    status: str
    status_label: str
    published: bool = Field(..., description="是否为当前发布版本")
    keywords: str
    body: str | None = Field(..., description="正文；仅编辑、审核人员可见未发布版本的正文")
    author: str
    created_at: datetime
    reviewer: str
    review_note: str
    reviewed_at: datetime | None


class KnowledgeDetailOut(Schema):
    code: str
    category: str
    title: str
    published_version: int | None
    body: str = Field(..., description="当前发布版本的正文（未发布为空）")
    keywords: str
    versions: list[KnowledgeVersionOut]


class KnowledgeCreateIn(Schema):
    code: Text = Field("", max_length=20, description="编号；留空自动生成 KBnnnnn")
    category: Text = Field(..., max_length=40)
    title: Text = Field(..., max_length=200)
    body: Text = Field(..., max_length=20000)
    keywords: Text = Field("", max_length=200)


class KnowledgeDraftIn(Schema):
    title: Text = Field(..., max_length=200)
    body: Text = Field(..., max_length=20000)
    keywords: Text = Field("", max_length=200)


class KnowledgeReviewIn(Schema):
    note: Text = Field("", max_length=300, description="审核意见（退回时必填）")


def _version_row(v: KnowledgeVersion, article: KnowledgeArticle, show_body: bool) -> dict[str, Any]:
    published = v.pk == article.published_id
    return {
        "version": v.version,
        "title": v.title,
        "status": v.status,
        "status_label": str(ArticleStatus(v.status).label),
        "published": published,
        "keywords": v.keywords,
        "body": v.body if (show_body or published) else None,
        "author": v.author_name,
        "created_at": v.created_at,
        "reviewer": v.reviewer_name,
        "review_note": v.review_note,
        "reviewed_at": v.reviewed_at,
    }


def _detail(request, article: KnowledgeArticle) -> dict[str, Any]:
    article.refresh_from_db()
    pub = article.published
    show = kb.may_edit(request.user)
    return {
        "code": article.code,
        "category": article.category,
        "title": article.title,
        "published_version": pub.version if pub else None,
        "body": pub.body if pub else "",
        "keywords": pub.keywords if pub else "",
        "versions": [_version_row(v, article, show) for v in kb.kb_versions(article)],
    }


def _article(request, code: str, *perms: str) -> KnowledgeArticle:
    require_perm(request, *perms)
    return kb.kb_article_get(request.user, code)


def _number(n: int) -> int:
    if not 0 < n < 2**31:
        raise Http404
    return n


@router.get("/knowledge", response={200: KnowledgePage, **LIST_ERRORS}, summary="知识库检索")
def knowledge_search(request, filters: Query[KnowledgeFilter], paging: Query[PageParams]):
    """Published articles matching every word of `q` in `category`: title hits first (workorder.view)."""
    require_perm(request, Perm.WORKORDER_VIEW)
    terms = kb.search_terms(filters.q)
    qs = kb.kb_search(request.user, q=filters.q, category=filters.category.strip())

    def row(a: KnowledgeArticle) -> dict[str, Any]:
        return {
            "code": a.code,
            "category": a.category,
            "title": a.published.title,
            "version": a.published.version,
            "keywords": a.published.keywords,
            "excerpt": kb.excerpt(a.published.body, terms),
        }

    return paginate(qs, paging, row)


@router.get(
    "/knowledge/{code}", response={200: KnowledgeDetailOut, **READ_ERRORS, 403: ErrorOut}, summary="知识详情"
)
def knowledge_detail(request, code: Text):
    return _detail(request, _article(request, code, Perm.WORKORDER_VIEW))


@router.post("/knowledge", response={201: KnowledgeDetailOut, **WRITE_ERRORS}, summary="新建知识")
def knowledge_create(request, payload: KnowledgeCreateIn):
    """A new article; its version 1 is a draft to submit for review (knowledge.edit)."""
    require_perm(request, Perm.KNOWLEDGE_EDIT)
    article = kb.article_create(
        actor=api_actor(request),
        code=payload.code or None,
        category=payload.category,
        title=payload.title,
        body=payload.body,
        keywords=payload.keywords,
    )
    return Status(201, _detail(request, article))


@router.post(
    "/knowledge/{code}/versions", response={201: KnowledgeDetailOut, **WRITE_ERRORS}, summary="起草新版本"
)
def knowledge_draft(request, code: Text, payload: KnowledgeDraftIn):
    """A new draft version (or the unsubmitted draft revised); refused while a version awaits review."""
    article = _article(request, code, Perm.KNOWLEDGE_EDIT)
    kb.version_draft(
        actor=api_actor(request),
        article=article,
        title=payload.title,
        body=payload.body,
        keywords=payload.keywords,
    )
    return Status(201, _detail(request, article))


@router.post(
    "/knowledge/{code}/versions/{n}/submit",
    response={200: KnowledgeDetailOut, **WRITE_ERRORS},
    summary="提交审核",
)
def knowledge_submit(request, code: Text, n: int):
    article = _article(request, code, Perm.KNOWLEDGE_EDIT)
    kb.version_submit(actor=api_actor(request), article=article, number=_number(n))
    return _detail(request, article)


@router.post(
    "/knowledge/{code}/versions/{n}/approve",
    response={200: KnowledgeDetailOut, **WRITE_ERRORS},
    summary="审核通过并发布",
)
def knowledge_approve(request, code: Text, n: int, payload: KnowledgeReviewIn):
    """Publish a submitted version (knowledge.approve); its author may not: 422."""
    article = _article(request, code, Perm.KNOWLEDGE_APPROVE)
    kb.version_approve(actor=api_actor(request), article=article, number=_number(n), note=payload.note)
    return _detail(request, article)


@router.post(
    "/knowledge/{code}/versions/{n}/reject",
    response={200: KnowledgeDetailOut, **WRITE_ERRORS},
    summary="审核退回",
)
def knowledge_reject(request, code: Text, n: int, payload: KnowledgeReviewIn):
    """Send a submitted version back with a reason (knowledge.approve; not its author)."""
    article = _article(request, code, Perm.KNOWLEDGE_APPROVE)
    kb.version_reject(actor=api_actor(request), article=article, number=_number(n), note=payload.note)
    return _detail(request, article)


@router.post(
    "/knowledge/{code}/retire", response={200: KnowledgeDetailOut, **WRITE_ERRORS}, summary="停用知识"
)
def knowledge_retire(request, code: Text, payload: KnowledgeReviewIn):
    """Take a published article out of search; its history stays (knowledge.approve)."""
    article = _article(request, code, Perm.KNOWLEDGE_APPROVE)
    kb.article_retire(actor=api_actor(request), article=article, note=payload.note)
    return _detail(request, article)
