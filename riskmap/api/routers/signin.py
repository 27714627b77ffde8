"""Signing in from a browser: GET /login (a Chinese page with an English switch that works on a phone), POST /login
(sets the session cookie), POST /logout.

The session cookie `riskmap_session` is HttpOnly, SameSite=Lax and Secure when the browser came over HTTPS
(riskmap.api.headers.is_https); it lasts the settings' `session_hours`. Beside it `riskmap_csrf` (readable by the
page, SameSite=Strict) carries the CSRF token a page sends back as `X-CSRF-Token` with every change
(riskmap.api.permissions). A failed sign-in is slowed down (FAIL_DELAY) and, after riskmap.store.accounts'
LOCK_AFTER failures, locked out per login and per address; every attempt is in the audit trail.
"""

from __future__ import annotations

import asyncio
from html import escape
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from riskmap.api.headers import is_https
from riskmap.api.permissions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, cookie_of
from riskmap.errors import RiskmapError
from riskmap.plant import resolve_enterprise
from riskmap.store import accounts
from riskmap.store import scope as data_scope

FAIL_DELAY = 0.5                 # seconds added to every failed sign-in
DEFAULT_NEXT = "/edit"
TEXT = {
    "zh": {"title": "登录 · 四色安全风险分布图", "heading": "登录", "login": "手机号或工号", "password": "密码",
           "submit": "登录", "enterprise": "企业", "switch": "English", "other": "en",
           "hint": "只读查看无需登录：", "map": "打开风险分布图", "demo": "演示数据的账户见 README（演示密码 {pw}）"},
    "en": {"title": "Sign in · four-colour risk map", "heading": "Sign in", "login": "Phone or staff number",
           "password": "Password", "submit": "Sign in", "enterprise": "Enterprise", "switch": "中文", "other": "zh",
           "hint": "Reading needs no sign-in: ", "map": "open the risk map",
           "demo": "Demo accounts are listed in the README (demo password {pw})"},
}
STYLE = """
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f4f5f7;color:#222}
main{max-width:22rem;margin:3rem auto;padding:1.5rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .3rem}
input,select{width:100%;box-sizing:border-box;font-size:1.1rem;padding:.6rem;border:1px solid #bbb;border-radius:4px}
button{width:100%;margin-top:1.2rem;font-size:1.1rem;padding:.7rem;border:0;border-radius:4px;background:#c62828;
color:#fff}.error{color:#b00020;background:#fdecea;padding:.6rem;border-radius:4px}.lang{float:right}
.small{font-size:.9rem;color:#555;margin-top:1rem}
@media (max-width:30rem){main{margin:0;border-radius:0;min-height:100vh}}
"""


def _lang(value: str | None) -> str:
    return "en" if (value or "").lower().startswith("en") else "zh"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this service only (never another site)."""
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith("//") or "\\" in value or any(ord(c) < 32 for c in value):
        return DEFAULT_NEXT
    return value[:500]


def client_address(request: Request) -> str | None:
    """The browser's address: the first X-Forwarded-For entry when a trusted proxy sent the request."""
    host = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and request.app.state.settings.is_trusted_proxy(host):
        return forwarded.split(",")[0].strip()[:64] or host
    return host


def demo_password(request: Request) -> str | None:
    """The documented demo password when this database holds the demo's accounts (riskmap.demo), else None."""
    from riskmap.demo import DEMO_PASSWORD, demo_accounts_present

    return DEMO_PASSWORD if demo_accounts_present(request.app.state.store()) else None


def _enterprises(request: Request) -> list[str]:
    return [e.name for e in request.app.state.store().enterprises()]


def login_page(request: Request, lang: str, next_: str, error: str | None = None, login: str = "",
               enterprise: str | None = None, status: int = 200) -> HTMLResponse:
    """The sign-in page (Chinese or English, phone-sized too), with an error and the login kept when one failed."""
    t = TEXT[lang]
    names = _enterprises(request)
    chosen = enterprise or request.app.state.settings.enterprise or (names[0] if names else "")
    if len(names) > 1:
        options = "".join(f'<option value="{escape(n)}"{" selected" if n == chosen else ""}>{escape(n)}</option>'
                          for n in names)
        ent_field = f'<label for="enterprise">{t["enterprise"]}</label><select id="enterprise" name="enterprise">' \
                    f"{options}</select>"
    else:
        ent_field = f'<input type="hidden" name="enterprise" value="{escape(chosen)}">'
    demo = demo_password(request)
    other = f"/login?lang={t['other']}&next={quote(next_)}"
    body = f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{t['title']}</title>
<style>{STYLE}</style></head><body><main>
<a class="lang" href="{escape(other)}" hreflang="{t['other']}">{t['switch']}</a>
<h1>{t['heading']}</h1>
{f'<p class="error" role="alert">{escape(error)}</p>' if error else ''}
<form method="post" action="/login" autocomplete="on">
<input type="hidden" name="next" value="{escape(next_)}"><input type="hidden" name="lang" value="{lang}">
{ent_field}
<label for="login">{t['login']}</label>
<input id="login" name="login" value="{escape(login)}" autocomplete="username" inputmode="text" required autofocus>
<label for="password">{t['password']}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{t['submit']}</button>
</form>
<p class="small">{t['hint']}<a href="/map">{t['map']}</a></p>
{f'<p class="small demo">{escape(t["demo"].format(pw=demo))}</p>' if demo else ''}
</main></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def make_router() -> APIRouter:
    """/login and /logout: a browser's session (cookie) and CSRF token, for the pages and their writes."""
    router = APIRouter(tags=["sign-in"])

    @router.get("/login", response_class=HTMLResponse, summary="登录页 / the sign-in page")
    def login_form(request: Request, next: str | None = None, lang: str | None = None) -> HTMLResponse:
        return login_page(request, _lang(lang or request.headers.get("accept-language")), safe_next(next))

    @router.post("/login", response_class=HTMLResponse, summary="登录（设置会话 Cookie）/ sign in (sets the session "
                 "cookie)", responses={303: {"description": "已登录，转到 next / signed in"},
                                       401: {"description": "登录名或密码不对，或账户已停用 / wrong login or password"},
                                       429: {"description": "失败次数过多，暂时锁定 / locked for now"}})
    async def login(request: Request, login: str = Form("", max_length=200), password: str = Form("", max_length=1024),
                    enterprise: str = Form("", max_length=200), next: str = Form(DEFAULT_NEXT, max_length=500),
                    lang: str = Form("zh", max_length=8)) -> Response:
        lang, next_ = _lang(lang), safe_next(next)
        settings = request.app.state.settings
        store = request.app.state.store()
        try:
            with data_scope.service():  # signing in is the service's own work (riskmap.store.scope)
                name = await run_in_threadpool(resolve_enterprise, store, enterprise or settings.enterprise)
                who, session, csrf = await run_in_threadpool(accounts.sign_in, store, name, login, password,
                                                             client_address(request), settings.session_hours)
        except RiskmapError as exc:
            await asyncio.sleep(FAIL_DELAY)
            status = exc.http_status if exc.http_status in (401, 429) else 401
            page = login_page(request, lang, next_, exc.message, login=login[:64], enterprise=enterprise,
                              status=status)
            for key, value in (getattr(exc, "headers", None) or {}).items():
                page.headers[key] = value
            return page
        answer = RedirectResponse(next_, status_code=303)
        secure = is_https(request.scope, settings)
        age = int(settings.session_hours * 3600)
        answer.set_cookie(SESSION_COOKIE, session, max_age=age, path="/", httponly=True, samesite="lax",
                          secure=secure)
        answer.set_cookie(CSRF_COOKIE, csrf, max_age=age, path="/", httponly=False, samesite="strict",
                          secure=secure)
        return answer

    @router.post("/logout", summary="退出登录 / sign out", response_class=RedirectResponse, status_code=303,
                 responses={303: {"description": "已退出 / signed out"}})
    async def logout(request: Request, lang: str | None = None) -> Response:
        session = cookie_of(request, SESSION_COOKIE)
        csrf = request.headers.get(CSRF_HEADER)
        if session and csrf is not None:
            # Only a page of this service knows the CSRF token: another site cannot end a browser's session.
            with data_scope.service():
                try:
                    who = await run_in_threadpool(accounts.principal_for_session, request.app.state.store(),
                                                  session, csrf, True)
                except RiskmapError:
                    who = None
                if who is not None:
                    await run_in_threadpool(accounts.end_session, request.app.state.store(), session)
        answer = RedirectResponse(f"/login?lang={_lang(lang)}", status_code=303)
        answer.delete_cookie(SESSION_COOKIE, path="/")
        answer.delete_cookie(CSRF_COOKIE, path="/")
        return answer

    return router
