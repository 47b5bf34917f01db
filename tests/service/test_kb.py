"""Knowledge base (issue 15 §6): versions with a second-person approval, search ranked title → keywords → body,
the API's permission matrix and the pages."""

from datetime import datetime

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404

from gridcare.core.audit import Actor
from gridcare.core.choices import Channel
from gridcare.core.models import AuditEvent
from gridcare.core.scoping import PermissionDenied
from gridcare.service import knowledge as kb
from gridcare.service.models import KnowledgeArticle, KnowledgeVersion

API = "/api/v1"
NOW = datetime.fromisoformat("2026-09-24T10:00:00+08:00")


def actor(user):
    return Actor(user=user, channel=Channel.CONSOLE)


def publish(author, approver, *, title, body, keywords="", category="电费电价", code=None):
    article = kb.article_create(
        actor=actor(author), category=category, title=title, body=body, keywords=keywords, code=code
    )
    kb.version_submit(actor=actor(author), article=article, number=1)
    kb.version_approve(actor=actor(approver), article=article, number=1, now=NOW)
    article.refresh_from_db()
    return article


def kb_state():
    return (
        list(KnowledgeArticle.objects.order_by("pk").values()),
        list(KnowledgeVersion.objects.order_by("pk").values()),
        AuditEvent.objects.count(),
    )


# ---------------------------------------------------------------- lifecycle


@pytest.mark.django_db
def test_versions_from_draft_to_publication_by_a_second_person(svc):
    manager, admin, agent = actor(svc.a_manager), actor(svc.admin), actor(svc.a_agent)
    article = kb.article_create(
        actor=manager, category="电费电价", title="阶梯电价怎么算", body="第一档……", keywords="阶梯 电价"
    )
    assert article.code == "KB00001" and article.published is None
    v1 = article.versions.get()
    assert (v1.version, v1.status, v1.author) == (1, "draft", svc.a_manager)
    kb.version_submit(actor=manager, article=article, number=1)

    # The author may not approve (nor reject) their own version, approver or not: refused, nothing written.
    before = kb_state()
    with pytest.raises(ValidationError) as exc:
        kb.version_approve(actor=manager, article=article, number=1)
    assert "不能审核自己编写的版本" in str(exc.value)
    with pytest.raises(ValidationError):
        kb.version_reject(actor=manager, article=article, number=1, note="自己退回")
    assert kb_state() == before
    # An editor without knowledge.approve may not either.
    with pytest.raises(PermissionDenied):
        kb.version_approve(actor=agent, article=article, number=1)

    kb.version_approve(actor=admin, article=article, number=1, now=NOW)
    article.refresh_from_db()
    assert article.published.version == 1 and article.title == "阶梯电价怎么算"
    v1.refresh_from_db()
    assert (v1.status, v1.reviewer, v1.reviewed_at) == ("approved", svc.admin, NOW)

    # v2: drafted, revised in place (still v2), submitted; no new draft while it awaits review.
    v2 = kb.version_draft(actor=agent, article=article, title="阶梯电价计算", body="草稿")
    v2b = kb.version_draft(actor=agent, article=article, title="阶梯电价计算方法", body="年度阶梯……")
    assert v2.pk == v2b.pk and v2b.version == 2 and v2b.body == "年度阶梯……"
    kb.version_submit(actor=agent, article=article, number=2)
    with pytest.raises(ValidationError) as exc:
        kb.version_draft(actor=agent, article=article, title="x", body="y")
    assert "version" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        kb.version_reject(actor=manager, article=article, number=2, note="  ")
    assert "note" in exc.value.message_dict
    kb.version_reject(actor=manager, article=article, number=2, note="缺少第三档", now=NOW)
    article.refresh_from_db()
    assert article.published.version == 1 and article.title == "阶梯电价怎么算"  # rejected: nothing published

    # v3 after the rejection: approved by the manager (not its author) → published; v1 stays in the history.
    kb.version_draft(actor=agent, article=article, title="阶梯电价计算（2026版）", body="三档……")
    kb.version_submit(actor=agent, article=article, number=3)
    with pytest.raises(ValidationError):
        kb.version_submit(actor=agent, article=article, number=3)  # already pending
    kb.version_approve(actor=manager, article=article, number=3, now=NOW)
    article.refresh_from_db()
    assert article.published.version == 3 and article.title == "阶梯电价计算（2026版）"
    assert [(v.version, v.status) for v in kb.kb_versions(article)] == [
        (3, "approved"),
        (2, "rejected"),
        (1, "approved"),
    ]

    kb.article_retire(actor=manager, article=article, note="政策调整")
    article.refresh_from_db()
    assert article.published is None
    assert KnowledgeVersion.objects.get(article=article, version=3).status == "retired"
    assert list(kb.kb_search(svc.a_agent, q="阶梯")) == []
    with pytest.raises(ValidationError):
        kb.article_retire(actor=manager, article=article)

    actions = list(
        AuditEvent.objects.filter(object_type="service.knowledgearticle")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "knowledge.create",
        "knowledge.submit",
        "knowledge.approve",
        "knowledge.draft",
        "knowledge.draft",
        "knowledge.submit",
        "knowledge.reject",
        "knowledge.draft",
        "knowledge.submit",
        "knowledge.approve",
        "knowledge.retire",
    ]
    approve = AuditEvent.objects.filter(action="knowledge.approve").order_by("pk").last()
    assert approve.changes["version"] == [1, 3]


@pytest.mark.django_db
def test_codes_given_auto_and_refused(svc):
    a = actor(svc.a_agent)
    given = kb.article_create(actor=a, category="业扩", title="新装流程", body="……", code="YK-001")
    assert given.code == "YK-001"
    assert kb.article_create(actor=a, category="业扩", title="t", body="b").code == "KB00001"
    assert kb.article_create(actor=a, category="业扩", title="t", body="b").code == "KB00002"
    for bad in ("yk-001", "new", "带中文", "a" * 21, "-x"):
        with pytest.raises(ValidationError) as exc:
            kb.article_create(actor=a, category="业扩", title="t", body="b", code=bad)
        assert "code" in exc.value.message_dict, bad
    for field, kw in [("title", {"title": " "}), ("body", {"body": ""}), ("category", {"category": ""})]:
        args = {"category": "业扩", "title": "t", "body": "b", **kw}
        with pytest.raises(ValidationError) as exc:
            kb.article_create(actor=a, **args)
        assert field in exc.value.message_dict
    with pytest.raises(PermissionDenied):  # a meter reader may read, not write
        kb.article_create(actor=actor(svc.a_reader), category="业扩", title="t", body="b")


# ---------------------------------------------------------------- search


@pytest.mark.django_db
def test_search_ranks_title_hits_before_keyword_and_body_hits(svc):
    agent, mgr = svc.a_agent, svc.a_manager
    body_hit = publish(agent, mgr, title="电费缴纳渠道", body="可通过网上国网缴纳电费，也可办理发票。")
    title_hit = publish(agent, mgr, title="电子发票如何开具", body="登录后在账单页面下载。")
    keyword_hit = publish(agent, mgr, title="增值税专票", body="需提供开票资料。", keywords="发票 专票")
    other = publish(agent, mgr, title="停电报修", body="拨打95598。", category="故障报修")

    def codes(**kw):
        return [a.code for a in kb.kb_search(svc.a_reader, **kw)]

    assert codes(q="发票") == [title_hit.code, keyword_hit.code, body_hit.code]
    # Every word must hit somewhere; ranked by how many hit the title.
    assert codes(q="发票 下载") == [title_hit.code]
    assert codes(q="发票，渠道") == [body_hit.code]
    assert codes(q="", category="故障报修") == [other.code]
    assert codes(q="发票", category="故障报修") == []
    assert codes(q="95598") == [other.code]

    # Only the published text counts: a pending v2 mentioning a new word is not found yet.
    kb.version_draft(actor=actor(agent), article=other, title="停电报修", body="拨打95598或在线客服。")
    kb.version_submit(actor=actor(agent), article=other, number=2)
    assert codes(q="在线客服") == []
    kb.version_approve(actor=actor(mgr), article=other, number=2)
    assert codes(q="在线客服") == [other.code]
    # A draft-only article is not in search, nor for users without workorder.view.
    kb.article_create(actor=actor(agent), category="电费电价", title="发票草稿", body="发票")
    assert len(codes(q="发票")) == 3
    assert list(kb.kb_search(svc.portal_user, q="发票")) == []
    assert set(kb.kb_categories(svc.a_reader)) == {"故障报修", "电费电价"}


def test_excerpt_centres_on_the_first_hit():
    body = "甲" * 100 + "发票" + "乙" * 100
    text = kb.excerpt(body, ["发票"], width=30)
    assert text.startswith("…") and text.endswith("…") and "发票" in text
    assert kb.excerpt("短文", []) == "短文"


# ---------------------------------------------------------------- API


@pytest.mark.django_db
def test_api_lifecycle_and_search(svc, login):
    agent, manager, reader = login(svc.a_agent), login(svc.a_manager), login(svc.a_reader)
    r = agent.post(
        f"{API}/knowledge",
        {"category": "电费电价", "title": "峰谷电价", "body": "峰时段 8:00-22:00", "keywords": "峰谷 分时"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    code = r.json()["code"]
    assert r.json()["published_version"] is None and r.json()["versions"][0]["status"] == "draft"
    assert reader.get(f"{API}/knowledge/{code}").status_code == 404  # unpublished: editors only
    assert agent.post(f"{API}/knowledge/{code}/versions/1/submit").status_code == 200
    r = agent.post(f"{API}/knowledge/{code}/versions/1/approve", {}, content_type="application/json")
    assert r.status_code == 403  # an agent may edit, not approve
    r = manager.post(
        f"{API}/knowledge/{code}/versions/1/approve", {"note": "ok"}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["published_version"] == 1
    r = reader.get(f"{API}/knowledge", {"q": "分时"})
    assert r.status_code == 200
    assert [i["code"] for i in r.json()["items"]] == [code]
    detail = reader.get(f"{API}/knowledge/{code}").json()
    assert (
        detail["body"] == "峰时段 8:00-22:00"
        and detail["versions"][0]["reviewer"] == svc.a_manager.display_name
    )

    # A new draft: the reader sees its row in the history, not its text; the editor sees both.
    r = agent.post(
        f"{API}/knowledge/{code}/versions",
        {"title": "峰谷电价（新）", "body": "秘密草稿"},
        content_type="application/json",
    )
    assert r.status_code == 201
    row = reader.get(f"{API}/knowledge/{code}").json()["versions"][0]
    assert (row["version"], row["status"], row["body"]) == (2, "draft", None)
    assert agent.get(f"{API}/knowledge/{code}").json()["versions"][0]["body"] == "秘密草稿"
    agent.post(f"{API}/knowledge/{code}/versions/2/submit")
    r = manager.post(f"{API}/knowledge/{code}/versions/2/reject", {}, content_type="application/json")
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "note"
    r = manager.post(
        f"{API}/knowledge/{code}/versions/2/reject", {"note": "不准确"}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["versions"][0]["status"] == "rejected"


@pytest.mark.django_db
def test_api_permission_matrix(svc, login):
    article = publish(svc.a_agent, svc.a_manager, title="峰谷电价", body="……", code="FG-1")
    kb.version_draft(actor=actor(svc.a_manager), article=article, title="峰谷电价2", body="新")
    kb.version_submit(actor=actor(svc.a_manager), article=article, number=2)
    anon, customer = login(), login(svc.portal_user)
    reader, agent, manager = login(svc.a_reader), login(svc.a_agent), login(svc.a_manager)
    body = {"category": "x", "title": "t", "body": "b"}
    before = kb_state()
    cases = [
        (anon, "get", f"{API}/knowledge", None, 401),
        (customer, "get", f"{API}/knowledge", None, 403),
        (customer, "get", f"{API}/knowledge/FG-1", None, 403),
        (anon, "post", f"{API}/knowledge", body, 401),
        (customer, "post", f"{API}/knowledge", body, 403),
        (reader, "post", f"{API}/knowledge", body, 403),
        (reader, "post", f"{API}/knowledge/FG-1/versions", {"title": "t", "body": "b"}, 403),
        (reader, "post", f"{API}/knowledge/NOPE/versions", {"title": "t", "body": "b"}, 403),
        (agent, "post", f"{API}/knowledge/NOPE/versions", {"title": "t", "body": "b"}, 404),
        (agent, "post", f"{API}/knowledge/FG-1/versions/2/approve", {}, 403),
        (manager, "post", f"{API}/knowledge/FG-1/versions/2/approve", {}, 422),  # own version
        (manager, "post", f"{API}/knowledge/FG-1/versions/9/approve", {}, 404),
        (manager, "post", f"{API}/knowledge/FG-1/versions/{2**70}/approve", {}, 404),
        (manager, "post", f"{API}/knowledge/FG-1/versions/-1/approve", {}, 404),
        (agent, "post", f"{API}/knowledge/FG-1/retire", {}, 403),
        (reader, "get", f"{API}/knowledge/NOPE", None, 404),
        (agent, "post", f"{API}/knowledge", {**body, "code": "FG-1"}, 422),
        (agent, "post", f"{API}/knowledge", {**body, "title": "x" * 201}, 422),
        (agent, "post", f"{API}/knowledge", {**body, "title": "a\x00b"}, 422),
        (reader, "get", f"{API}/knowledge?q={'x' * 101}", None, 422),
    ]
    for client, method, path, payload, expected in cases:
        if method == "get":
            r = client.get(path)
        else:
            r = client.post(path, payload or {}, content_type="application/json")
        assert r.status_code == expected, (method, path, r.status_code, r.content[:300])
    assert kb_state() == before
    assert reader.get(f"{API}/knowledge/FG-1").status_code == 200


# ---------------------------------------------------------------- pages


@pytest.mark.django_db
def test_pages_search_read_write_review(svc, login, django_assert_max_num_queries):
    for i in range(12):
        publish(
            svc.a_agent, svc.a_manager, title=f"电价问答{i}", body=f"第{i}条 电价", category=f"分类{i % 3}"
        )
    reader = login(svc.a_reader)
    with django_assert_max_num_queries(12):
        r = reader.get("/service/kb/", {"q": "电价"})
    assert r.status_code == 200
    page = r.content.decode()
    assert 'data-testid="kb-hit-KB00001"' in page and "新建知识" not in page
    r = reader.get("/service/kb/", {"q": "电价", "category": "分类1"})
    assert r.content.decode().count('data-testid="kb-hit-') == 4
    assert reader.get("/service/kb/KB00001/").status_code == 200
    assert reader.get("/service/kb/new/").status_code == 404
    assert reader.get("/service/kb/review/").status_code == 404
    assert login(svc.portal_user).get("/service/kb/").status_code == 404

    agent = login(svc.a_agent)
    r = agent.post("/service/kb/new/", {"category": "业扩", "title": "", "body": "b"})
    assert r.status_code == 400 and "请填写标题" in r.content.decode()
    r = agent.post(
        "/service/kb/new/", {"category": "业扩", "title": "新装流程", "body": "申请→受理", "submit": "1"}
    )
    assert r.status_code == 302
    article = KnowledgeArticle.objects.get(title="新装流程")
    assert article.versions.get().status == "pending"
    r = agent.post(f"/service/kb/{article.code}/edit/", {"title": "x", "body": "y"})
    assert r.status_code == 400  # awaiting review

    manager = login(svc.a_manager)
    with django_assert_max_num_queries(10):
        review = manager.get("/service/kb/review/")
    assert f'data-testid="kb-pending-{article.code}"' in review.content.decode()
    r = manager.post(f"/service/kb/{article.code}/versions/1/approve/", {"next": "review"})
    assert r.status_code == 302 and r["Location"] == "/service/kb/review/"
    article.refresh_from_db()
    assert article.published.version == 1
    page = reader.get(f"/service/kb/{article.code}/").content.decode()
    assert "申请→受理" in page and 'data-testid="kb-version-1"' in page

    # The manager's own draft: the page offers no approve button and a forced post is refused (400).
    r = manager.post(
        f"/service/kb/{article.code}/edit/", {"title": "新装流程v2", "body": "新", "submit": "1"}
    )
    assert r.status_code == 302
    page = manager.get(f"/service/kb/{article.code}/").content.decode()
    assert "须由他人审核" in page and 'data-testid="kb-approve-2"' not in page
    r = manager.post(f"/service/kb/{article.code}/versions/2/approve/")
    assert r.status_code == 400 and "不能审核自己编写的版本" in r.content.decode()
    assert agent.post(f"/service/kb/{article.code}/versions/2/approve/").status_code == 404
    assert agent.post(f"/service/kb/{article.code}/versions/2/nope/").status_code == 404
    r = login(svc.admin).post(f"/service/kb/{article.code}/versions/2/approve/")
    assert r.status_code == 302
    assert KnowledgeArticle.objects.get(pk=article.pk).title == "新装流程v2"
    r = manager.post(f"/service/kb/{article.code}/retire/", {"note": "作废"})
    assert r.status_code == 302 and KnowledgeArticle.objects.get(pk=article.pk).published is None
    assert reader.get(f"/service/kb/{article.code}/").status_code == 404
    with pytest.raises(Http404):
        kb.kb_article_get(svc.a_reader, article.code)
