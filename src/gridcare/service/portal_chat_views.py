"""The customer's online chat (在线客服, issue 15 §7), under /portal/service/chat/.

`chat`: the customer's chats and the form that starts one (a topic, optionally a bound 户号, a first message);
`chat_session`: one chat, its messages polled live by static/service/chat.js (no reload), a message box and a
close button. Without JavaScript the forms still post here and the page reloads. Another customer's chat is the
same 404 as a missing one."""

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.scoping import PermissionDenied
from gridcare.core.views import customer_required
from gridcare.portal import selectors as portal_selectors

from . import chat as chats


def _actor(request) -> Actor:
    return Actor.from_request(request, Channel.PORTAL)


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(exc.messages)


@customer_required
@require_http_methods(["GET", "POST"])
def portal_chat(request):
    accounts = list(
        portal_selectors.portal_accounts(user=request.user).values_list("account_number", flat=True)
    )
    form = {"topic": "", "account": "", "message": ""}
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        form = {k: request.POST.get(k, "").strip() for k in form}
        try:
            chat = chats.chat_start(
                actor=_actor(request),
                topic=form["topic"][: chats.TOPIC_MAX + 1],
                account_number=form["account"][:20] or None,
                message=form["message"][: chats.MESSAGE_MAX + 1],
            )
        except ValidationError as exc:
            errors, status = _messages(exc), 400
        except chats.TooFast as exc:
            errors, status = [str(exc)], 429
        else:
            return redirect("portal_service:chat_session", chat.pk)
    return render(
        request,
        "service/portal_chat.html",
        {
            "chats": list(chats.chat_list(request.user)[:50]),
            "accounts": accounts,
            "form": form,
            "errors": errors,
        },
        status=status,
    )


def _session_context(request, chat) -> dict:
    messages = chats.chat_messages(chat, after=0, limit=10_000)
    for m in messages:
        m.label = chats.sender_label(m, for_customer=True)
    return {"chat": chat, "messages": messages, "last_id": messages[-1].pk if messages else 0, "errors": []}


@customer_required
def portal_chat_session(request, chat_id: int):
    chat = chats.chat_get(request.user, chat_id)
    return render(request, "service/portal_chat_session.html", _session_context(request, chat))


@customer_required
@require_POST
def portal_chat_action(request, chat_id: int, action: str):
    chat = chats.chat_get(request.user, chat_id)
    status = 400
    try:
        if action == "send":
            chats.chat_post(
                actor=_actor(request), chat=chat, body=request.POST.get("body", "")[: chats.MESSAGE_MAX + 1]
            )
        else:
            chats.chat_close(actor=_actor(request), chat=chat)
    except (ValidationError, chats.TooFast) as exc:
        if isinstance(exc, chats.TooFast):
            errors, status = [str(exc)], 429
        else:
            errors = _messages(exc)
        chat = chats.chat_get(request.user, chat.pk)
        ctx = _session_context(request, chat)
        ctx["errors"] = errors
        return render(request, "service/portal_chat_session.html", ctx, status=status)
    except PermissionDenied:  # pragma: no cover - chat_get already scoped it to the customer
        raise Http404 from None
    return redirect("portal_service:chat_session", chat.pk)
