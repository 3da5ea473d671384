"""Staff accounts and server-side sessions: what an administrator and a staff member notice.

Sessions end at once (logout, password change, deactivation, force sign-out, reset), tokens of a
deactivated user stop at once, the password policy speaks next to its field, and bad input to
the account forms changes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from processes.engine.actors import Actor
from processes.engine.models import AuditEntry, User
from processes.engine.users import UserError, create_account

ADMIN_PW = "admin-pass-7421"
STAFF_PW = "staff-pass-9034"


@pytest.fixture
def admin_client(app, make_user):
    make_user("root", "management", "admin", ADMIN_PW)
    client = app.test_client()
    login(client, "root", ADMIN_PW)
    return client


def login(client, username, password, locale="en"):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    client.post("/language", data={"locale": locale})
    return response


def count(app, model=User) -> int:
    with app.extensions["redress.db"].session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_copied_cookie_stops_working_after_logout(app, make_user):
    make_user("li", "product", "department_staff", STAFF_PW)
    browser = app.test_client()
    login(browser, "li", STAFF_PW)
    copied = app.test_client()
    copied.set_cookie("session", browser.get_cookie("session").value)
    assert copied.get("/").status_code == 200
    browser.post("/logout")
    assert copied.get("/").status_code == 302 and "/login" in copied.get("/").location


def test_deactivation_ends_the_open_session_and_the_token_at_once(app, make_user, admin_client):
    _, token = make_user("li", "product", "department_staff", STAFF_PW)
    staff = app.test_client()
    login(staff, "li", STAFF_PW)
    bearer = {"Authorization": f"Bearer {token}"}
    assert staff.get("/").status_code == 200 and staff.get("/api/v1/tasks", headers=bearer).status_code == 200

    admin_client.post("/admin/users/li/deactivate")

    assert "/login" in staff.get("/").location
    assert staff.get("/api/v1/tasks", headers=bearer).status_code == 401
    assert staff.post("/login", data={"username": "li", "password": STAFF_PW}).status_code == 401
    admin_client.post("/admin/users/li/reactivate")
    login(staff, "li", STAFF_PW)
    # Deactivation revoked the token for good: reactivating the person does not revive it.
    assert staff.get("/api/v1/tasks", headers=bearer).status_code == 401


def test_force_sign_out_ends_every_browser_of_the_person(app, make_user, admin_client):
    make_user("li", "product", "department_staff", STAFF_PW)
    office, phone = app.test_client(), app.test_client()
    login(office, "li", STAFF_PW)
    login(phone, "li", STAFF_PW)
    page = admin_client.get("/admin/users/li").get_data(as_text=True)
    assert page.count("<td>127.0.0.1</td>") == 2  # both sessions listed
    admin_client.post("/admin/users/li/sign-out")
    assert "/login" in office.get("/").location and "/login" in phone.get("/").location


def test_changing_my_password_ends_my_other_sessions_and_keeps_this_one(app, make_user):
    make_user("li", "product", "department_staff", STAFF_PW)
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "li", STAFF_PW)
    login(elsewhere, "li", STAFF_PW)
    assert "This browser" in here.get("/account/").get_data(as_text=True)
    done = here.post("/account/password", data={"current_password": STAFF_PW, "new_password": "brand-new-pass-5521",
                                                "new_password_again": "brand-new-pass-5521"})
    assert done.status_code == 302
    assert here.get("/").status_code == 200
    assert "/login" in elsewhere.get("/").location
    assert app.test_client().post("/login", data={"username": "li", "password": STAFF_PW}).status_code == 401
    login(app.test_client(), "li", "brand-new-pass-5521")


@pytest.mark.parametrize(("new", "message"), [
    ("short1", "at least 10 characters"),
    ("li-is-my-password", "must not contain the user name"),
    ("password123", "too common"),
    ("aaaaaaaaaaaa", "too common"),
])
def test_a_weak_new_password_is_refused_next_to_its_field(app, make_user, new, message):
    make_user("li", "product", "department_staff", STAFF_PW)
    client = app.test_client()
    login(client, "li", STAFF_PW)
    refused = client.post("/account/password", data={"current_password": STAFF_PW, "new_password": new,
                                                     "new_password_again": new})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.search(r'id="new_password-error"[^>]*>[^<]*' + message, page), page
    login(app.test_client(), "li", STAFF_PW)  # nothing changed


def test_wrong_current_password_is_said_next_to_it(app, make_user):
    make_user("li", "product", "department_staff", STAFF_PW)
    client = app.test_client()
    login(client, "li", STAFF_PW, locale="zh_CN")
    refused = client.post("/account/password", data={"current_password": "nope", "new_password": "brand-new-5521x",
                                                     "new_password_again": "brand-new-5521x"})
    assert refused.status_code == 422
    assert 'id="current_password-error"' in refused.get_data(as_text=True)
    assert "当前密码不正确" in refused.get_data(as_text=True)


def test_admin_creates_an_account_whose_temporary_password_must_be_changed(app, admin_client):
    created = admin_client.post("/admin/users/new", data={
        "username": "zhang.product", "display_name": "张工", "email": "zhang@example.com",
        "department": "product", "role": "department_staff", "locale": "zh_CN"})
    temporary = re.search(r'id="temporary-password">([^<]+)<', created.get_data(as_text=True)).group(1)
    person = app.test_client()
    login(person, "zhang.product", temporary)
    assert person.get("/").location.endswith("/account/")  # nothing else until it is changed
    assert person.get("/complaints/").location.endswith("/account/")
    # The browser session cannot reach the API either until the password is changed.
    refused = person.get("/api/v1/tasks")
    assert refused.status_code == 403 and "temporary password" in refused.get_json()["error"]
    person.post("/account/password", data={"current_password": temporary, "new_password": "zhang-own-pass-3318",
                                           "new_password_again": "zhang-own-pass-3318"})
    assert person.get("/").status_code == 200
    assert person.get("/api/v1/tasks").status_code == 200
    listing = admin_client.get("/admin/users?q=zhang").get_data(as_text=True)
    assert "张工" in listing and "root" not in listing.split("<tbody>")[1]


def test_reset_password_ends_sessions_and_forces_a_change(app, make_user, admin_client):
    make_user("li", "product", "department_staff", STAFF_PW)
    person = app.test_client()
    login(person, "li", STAFF_PW)
    reset = admin_client.post("/admin/users/li/reset-password").get_data(as_text=True)
    temporary = re.search(r'id="temporary-password">([^<]+)<', reset).group(1)
    assert "/login" in person.get("/").location
    login(person, "li", temporary)
    assert person.get("/").location.endswith("/account/")


@pytest.mark.parametrize(("field", "form", "message"), [
    ("username", {"username": "root"}, "already exists"),
    ("username", {"username": "ROOT"}, "already exists"),
    ("role", {"role": "wizard"}, "unknown role wizard"),
    ("department", {"department": "moon"}, "unknown department moon"),
    ("email", {"email": "not-an-address"}, "is not an e-mail address"),
    ("username", {"username": "a b"}, "A user name has"),
])
def test_bad_account_input_is_said_next_to_the_field_and_nothing_is_created(app, admin_client, field, form, message):
    before = count(app)
    data = {"username": "new.person", "department": "product", "role": "department_staff", **form}
    refused = admin_client.post("/admin/users/new", data=data)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.search(rf'id="{field}-error"[^>]*>[^<]*{re.escape(message)}', page), page
    assert f'value="{data["username"]}"' in page  # what was typed stays
    assert count(app) == before


def test_editing_an_account_changes_it_and_audits_old_and_new(app, make_user, admin_client):
    make_user("li", "product", "department_staff", STAFF_PW)
    admin_client.post("/admin/users/li", data={"display_name": "李工", "email": "li@example.com",
                                               "department": "technical", "role": "supervisor", "locale": "en"})
    refused = admin_client.post("/admin/users/li", data={"display_name": "X", "department": "technical",
                                                         "role": "wizard", "locale": "en"})
    assert refused.status_code == 422 and 'id="role-error"' in refused.get_data(as_text=True)
    with app.extensions["redress.db"].session() as s:
        user = s.scalar(select(User).where(User.username == "li"))
        assert (user.display_name, user.department, user.role) == ("李工", "technical", "supervisor")
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "user_changed")).one()
    assert entry.actor == "root" and entry.detail["changes"]["role"] == ["department_staff", "supervisor"]


def test_only_an_administrator_manages_accounts(app, db_session_for, make_user):
    make_user("lead", "customer_service", "supervisor", STAFF_PW)
    client = app.test_client()
    login(client, "lead", STAFF_PW)
    assert client.get("/admin/users").status_code == 403
    assert client.post("/admin/users/new", data={"username": "x1", "department": "product",
                                                 "role": "admin"}).status_code == 403
    with db_session_for(app) as s, pytest.raises(Exception, match="Only an administrator"):
        create_account(s, Actor("lead", "customer_service", "supervisor"), "x2", "product", "admin")


def test_an_administrator_cannot_lock_themselves_out(app, admin_client):
    refused = admin_client.post("/admin/users/root/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account." in refused.get_data(as_text=True)
    assert admin_client.get("/admin/users").status_code == 200
    with app.extensions["redress.db"].write_session.begin() as s, pytest.raises(UserError, match="administrator role"):
        from processes.engine.users import edit_account
        edit_account(s, Actor("root", "management", "admin"), "root", role="agent")


@pytest.fixture
def db_session_for():
    def open_(app):
        return app.extensions["redress.db"].write_session.begin()
    return open_


def test_production_hashes_passwords_at_the_recommended_cost():
    """The suite uses a cheap hasher; a fresh interpreter (as `redress serve` starts) must use the real one."""
    import subprocess
    import sys

    code = ("from processes.engine import users; h = users._hasher; "
            "print(h is users.PRODUCTION_HASHER, h.time_cost, h.memory_cost)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "True"
    assert int(out[1]) >= 3 and int(out[2]) >= 64 * 1024  # RFC 9106: 3 passes, 64 MiB
