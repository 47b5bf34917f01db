"""Staff pages of the knowledge base and the online chat (issue 15 §6–7), under /service/.

Knowledge base: search (`kb`, workorder.view), an article with its version history (`kb_article`), new article
and new draft forms (`kb_new`, `kb_edit`, knowledge.edit), the review queue (`kb_review`, knowledge.approve),
and the POST actions submit / approve / reject / retire. Chat: the agent console (`chat_console`: waiting chats
of the unit subtree, polled live by static/service/chat-queue.js) and a chat (`chat_detail`: the transcript,
polled live by static/service/chat.js; accept, send, close, convert to a work order). Every action is a POST to
the same services the API calls; a refused or bad action re-renders the page with the message (400); a chat or
article the user may not see is a 404, like a missing one."""

from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.locks import Conflict
from gridcare.core.masking import mask_phone
from gridcare.core.permissions import Perm, has_perm
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import staff_required

from . import chat as chats
from . import knowledge as kb
from .choices import SUB_TYPE_CHOICES, AreaKind, ChatStatus, OrderType

# The order page's URL name (owned by the orders part of issue 15); the first that resolves is linked.


def _actor(request) -> Actor:
    return Actor.from_request(request, Channel.CONSOLE)


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


def order_url(number: str) -> str:
    return reverse("service:order_detail", args=[number])


# ---------------------------------------------------------------- knowledge base


@staff_required(Perm.WORKORDER_VIEW)
def kb_list(request):
    q = (request.GET.get("q") or "").strip()[:100]
    category = (request.GET.get("category") or "").strip()[:40]
    terms = kb.search_terms(q)
    page = Paginator(kb.kb_search(request.user, q=q, category=category), 20).get_page(request.GET.get("page"))
    rows = [{"article": a, "excerpt": kb.excerpt(a.published.body, terms)} for a in page]
    may_approve = has_perm(request.user, Perm.KNOWLEDGE_APPROVE)
    return render(
        request,
        "service/kb_list.html",
        {
            "q": q,
            "category": category,
            "categories": kb.kb_categories(request.user),
            "page": page,
            "rows": rows,
            "may_edit": has_perm(request.user, Perm.KNOWLEDGE_EDIT),
            "may_approve": may_approve,
            "pending": kb.kb_review_queue(request.user).count() if may_approve else 0,
            "query": _query(q, category),
        },
    )


def _query(q: str, category: str) -> str:
    return urlencode({k: v for k, v in (("q", q), ("category", category)) if v})


def _article_context(request, article) -> dict:
    user = request.user
    versions = kb.kb_versions(article)
    published = next((v for v in versions if v.pk == article.published_id), None)
    return {
        "article": article,
        "published": published,
        "versions": versions,
        "open_version": next((v for v in versions if v.status in kb.OPEN), None),
        "may_edit": has_perm(user, Perm.KNOWLEDGE_EDIT),
        "may_approve": has_perm(user, Perm.KNOWLEDGE_APPROVE),
        "show_drafts": kb.may_edit(user),
        "user_id": user.pk,
        "errors": [],
    }


@staff_required(Perm.WORKORDER_VIEW)
def kb_article(request, code: str):
    article = kb.kb_article_get(request.user, code)
    return render(request, "service/kb_article.html", _article_context(request, article))


def _kb_form(request) -> dict[str, str]:
    return {k: request.POST.get(k, "").strip() for k in ("code", "category", "title", "body", "keywords")}


@staff_required(Perm.KNOWLEDGE_EDIT)
@require_http_methods(["GET", "POST"])
def kb_new(request):
    form = {"code": "", "category": "", "title": "", "body": "", "keywords": ""}
    errors: list[str] = []
    if request.method == "POST":
        form = _kb_form(request)
        actor = _actor(request)
        try:
            article = kb.article_create(
                actor=actor,
                code=form["code"] or None,
                category=form["category"],
                title=form["title"],
                body=form["body"],
                keywords=form["keywords"],
            )
        except ValidationError as exc:
            errors = _messages(exc)
        else:
            if "submit" in request.POST:
                kb.version_submit(actor=actor, article=article, number=1)
            return redirect("service:kb_article", article.code)
    return render(
        request,
        "service/kb_form.html",
        {"form": form, "errors": errors, "new": True, "categories": kb.kb_categories(request.user)},
        status=400 if errors else 200,
    )


@staff_required(Perm.KNOWLEDGE_EDIT)
@require_http_methods(["GET", "POST"])
def kb_edit(request, code: str):
    article = kb.kb_article_get(request.user, code)
    base = kb.kb_open_version(article) or article.published or article.versions.order_by("-version").first()
    form = {
        "code": article.code,
        "category": article.category,
        "title": base.title if base else article.title,
        "body": base.body if base else "",
        "keywords": base.keywords if base else "",
    }
    errors: list[str] = []
    if request.method == "POST":
        form.update({k: request.POST.get(k, "").strip() for k in ("title", "body", "keywords")})
        actor = _actor(request)
        try:
            version = kb.version_draft(
                actor=actor,
                article=article,
                title=form["title"],
                body=form["body"],
                keywords=form["keywords"],
            )
            if "submit" in request.POST:
                kb.version_submit(actor=actor, article=article, number=version.version)
        except ValidationError as exc:
            errors = _messages(exc)
        else:
            return redirect("service:kb_article", article.code)
    return render(
        request,
        "service/kb_form.html",
        {"form": form, "errors": errors, "new": False, "article": article, "base": base},
        status=400 if errors else 200,
    )


KB_ACTIONS = {
    "submit": Perm.KNOWLEDGE_EDIT,
    "approve": Perm.KNOWLEDGE_APPROVE,
    "reject": Perm.KNOWLEDGE_APPROVE,
}


@staff_required(Perm.KNOWLEDGE_EDIT, Perm.KNOWLEDGE_APPROVE)
@require_POST
def kb_version_action(request, code: str, number: int, action: str):
    if action not in KB_ACTIONS or not has_perm(request.user, KB_ACTIONS[action]):
        raise Http404
    article = kb.kb_article_get(request.user, code)
    actor, note = _actor(request), request.POST.get("note", "").strip()
    try:
        if action == "submit":
            kb.version_submit(actor=actor, article=article, number=number)
        elif action == "approve":
            kb.version_approve(actor=actor, article=article, number=number, note=note)
        else:
            kb.version_reject(actor=actor, article=article, number=number, note=note)
    except ValidationError as exc:
        return _kb_refused(request, article, exc)
    except PermissionDenied:
        raise Http404 from None
    if request.POST.get("next") == "review":
        return redirect("service:kb_review")
    return redirect("service:kb_article", article.code)


def _kb_refused(request, article, exc):
    article.refresh_from_db()
    ctx = _article_context(request, article)
    ctx["errors"] = _messages(exc)
    return render(request, "service/kb_article.html", ctx, status=400)


@staff_required(Perm.KNOWLEDGE_APPROVE)
@require_POST
def kb_retire(request, code: str):
    article = kb.kb_article_get(request.user, code)
    try:
        kb.article_retire(
            actor=_actor(request), article=article, note=request.POST.get("note", "").strip()[:300]
        )
    except ValidationError as exc:
        return _kb_refused(request, article, exc)
    return redirect("service:kb_article", article.code)


@staff_required(Perm.KNOWLEDGE_APPROVE)
def kb_review(request):
    versions = list(kb.kb_review_queue(request.user)[:100])
    for v in versions:
        v.author_name = kb.user_label(v.author)
    return render(request, "service/kb_review.html", {"versions": versions, "user_id": request.user.pk})


# ---------------------------------------------------------------- chat


def _customer_label(chat) -> str:
    return mask_phone(chat.customer_user.phone or chat.customer_user.get_username())


@staff_required(Perm.WORKORDER_HANDLE)
def chat_console(request):
    lists = chats.chat_console_lists(request.user)
    for rows in lists.values():
        for c in rows:
            c.customer_label = _customer_label(c)
            c.agent_label = chats.agent_name(c.agent)
    return render(request, "service/chat_console.html", lists)


def _chat_context(request, chat) -> dict:
    messages = chats.chat_messages(chat, after=0, limit=10_000)
    for m in messages:
        m.label = chats.sender_label(m, for_customer=False)
    chat.customer_label = _customer_label(chat)
    chat.agent_label = chats.agent_name(chat.agent)
    return {
        "chat": chat,
        "messages": messages,
        "last_id": messages[-1].pk if messages else 0,
        "mine": chat.agent_id == request.user.pk,
        "order_url": order_url(chat.order.number) if chat.order_id else None,
        "types": OrderType.choices,
        "sub_types": SUB_TYPE_CHOICES,
        "areas": AreaKind.choices,
        "form": {
            "type": OrderType.CONSULTATION,
            "sub_type": "",
            "description": chats.prefill_description(chat),
            "phone": "",
            "address": "",
            "area": "",
        },
        "errors": [],
        "statuses": ChatStatus,
    }


@staff_required(Perm.WORKORDER_HANDLE)
def chat_detail(request, chat_id: int):
    chat = chats.chat_get(request.user, chat_id)
    return render(request, "service/chat_detail.html", _chat_context(request, chat))


def _chat_refused(request, chat, messages: list[str], status: int = 400, form: dict | None = None):
    chat = chats.chat_get(request.user, chat.pk)
    ctx = _chat_context(request, chat)
    ctx["errors"] = messages
    if form:
        ctx["form"].update(form)
    return render(request, "service/chat_detail.html", ctx, status=status)


CHAT_ACTIONS = ("accept", "send", "close", "order")


@staff_required(Perm.WORKORDER_HANDLE)
@require_POST
def chat_action(request, chat_id: int, action: str):
    if action not in CHAT_ACTIONS:
        raise Http404
    chat = chats.chat_get(request.user, chat_id)
    actor, p = _actor(request), request.POST
    form = None
    try:
        if action == "accept":
            chats.chat_accept(actor=actor, chat=chat)
        elif action == "send":
            chats.chat_post(actor=actor, chat=chat, body=p.get("body", "")[: chats.MESSAGE_MAX + 1])
        elif action == "close":
            chats.chat_close(actor=actor, chat=chat)
        else:
            form = {
                k: p.get(k, "").strip()
                for k in ("type", "sub_type", "description", "phone", "address", "area")
            }
            order = chats.chat_to_order(
                actor=actor,
                chat=chat,
                order_type=form["type"],
                sub_type=form["sub_type"] or None,
                description=form["description"],
                phone=form["phone"][:20],
                address=form["address"][:200],
                area=form["area"] or None,
            )
            url = order_url(order.number)
            if url:
                return redirect(url)
    except ValidationError as exc:
        return _chat_refused(request, chat, _messages(exc), form=form)
    except Conflict as exc:
        return _chat_refused(request, chat, [str(exc)], status=409)
    except PermissionDenied:
        raise Http404 from None
    return redirect("service:chat_detail", chat.pk)
